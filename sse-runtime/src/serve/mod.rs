//! A serve function for apps whose connections mostly hold streams: HTTP/1.1, an open
//! stream that holds no buffer, and a graceful shutdown that ends the streams first.
//!
//! `axum::serve` works with every view of this crate; this one costs far less per idle
//! stream. Hyper keeps an 8 KiB read buffer and an 8 KiB write buffer for the life of a
//! connection (hyper-util's automatic HTTP/1-or-2 builder, which `axum::serve` uses,
//! doubles the first), and an event stream lives for hours. So a GET over HTTP/1.1 with
//! no body, which is every `EventSource` request, is answered here: its head is parsed
//! with `httparse` (hyper's own parser), the app is called as hyper would call it, and
//! the response goes out with `Content-Length`, or chunked with each body frame one
//! chunk; nothing is buffered between frames, and the connection's only state is the
//! response body. Any other request (another method, a body, an upgrade, `Expect`,
//! HTTP/1.0, a head over 16 KiB or that `httparse` refuses) hands the connection, with
//! the bytes already read, to hyper's HTTP/1 server for the rest of its life, so those
//! are answered exactly as before, `400` and `431` included. Pipelined requests are
//! answered in order across the two.
//!
//! Every request carries the client's address as an extension, so that handlers can take
//! `ConnectInfo<SocketAddr>` as they do under `axum::serve` with
//! `into_make_service_with_connect_info`.
//!
//! A graceful shutdown is bounded: after the signal, streams end at once (each told a
//! `retry:` spread over a few seconds, so their clients do not all come back in the same
//! instant), requests in flight get [`Serve::drain_timeout`] to finish, and whatever is
//! still open then (a client that stopped reading, a half-sent body) is closed. A stream
//! whose client reads nothing for [`Serve::write_timeout`] is closed at any time. A
//! request head has [`Serve::header_timeout`] and [`Serve::max_head`], a connection with
//! no request [`Serve::idle_timeout`] (`limits.rs` has the defaults beside hyper's and
//! nginx's), and an HTTP/1.1 request without `Host` is answered `400` (RFC 9112 §3.2).
//!
//! A connection that opens with the HTTP/2 preface (h2c with prior knowledge, as a proxy
//! or `curl --http2-prior-knowledge` sends it) is handed to hyper's HTTP/2 server, where
//! one connection carries many streams; a shutdown sends GOAWAY. With the feature `tls`,
//! `Serve::tls` serves over rustls, HTTP/2 or HTTP/1.1 as ALPN chose, the same way
//! (`tls.rs`). Trailers of a response body are not sent over HTTP/1.1, as
//! hyper sends them only to clients that ask with `TE: trailers`.

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

mod connection;
mod encode;
mod head;
mod limits;
mod listen;
mod request;
mod socket;
#[cfg(feature = "tls")]
mod tls;
mod write;

use limits::Limits;
pub use limits::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_HEAD,
    DEFAULT_WRITE_TIMEOUT,
};
pub use listen::{listen, LISTEN_BACKLOG};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;

/// Serves `app` on `listener`: `.await` it to serve until the process ends, or give it
/// a shutdown signal first.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = sse_runtime::listen("127.0.0.1:3000").await?;
/// sse_runtime::serve(listener, app)
///     .with_graceful_shutdown(sse_runtime::shutdown_signal())
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        listener,
        app,
        limits: Limits::default(),
        #[cfg(feature = "tls")]
        tls: None,
    }
}

/// Serves `app` on `listener` until `signal` completes; then stops accepting, ends every
/// stream of the process (as [`shutdown`](crate::shutdown) does), lets the requests in
/// flight finish for at most [`DEFAULT_DRAIN_TIMEOUT`], and returns once every connection
/// is closed. The same as `serve(listener, app).with_graceful_shutdown(signal)`.
///
/// ```no_run
/// # async fn run(app: axum::Router, stop: tokio::sync::oneshot::Receiver<()>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// sse_runtime::serve_with_shutdown(listener, app, async move {
///     let _ = stop.await; // or sse_runtime::shutdown_signal()
/// })
/// .await
/// # }
/// ```
pub async fn serve_with_shutdown(
    listener: TcpListener,
    app: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve(listener, app).with_graceful_shutdown(signal).await
}

/// Completes when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM
/// (what `kill`, systemd and Kubernetes send). For `with_graceful_shutdown`.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: ending streams, then closing connections");
}

/// A server not yet started: [`serve`]'s settings. `.await` it to serve.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    app: Router,
    limits: Limits,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// How long requests in flight get to finish once the shutdown signal came (default
    /// [`DEFAULT_DRAIN_TIMEOUT`]); then every connection still open is closed.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.limits.drain = timeout;
        self
    }

    /// How long a request head may take from its first byte to its end (default
    /// [`DEFAULT_HEADER_TIMEOUT`]); a slower one is answered `408` and its connection
    /// closed, so that a client sending a byte now and then holds nothing for long.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header = timeout;
        self
    }

    /// How long a connection may stay open with no request under way, before its first
    /// or between two (default [`DEFAULT_IDLE_TIMEOUT`]). An open stream is a request
    /// under way: this never ends one.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle = timeout;
        self
    }

    /// The largest request head taken, in bytes (default [`DEFAULT_MAX_HEAD`]); a
    /// larger one is answered `431` as soon as it has grown past it.
    pub fn max_head(mut self, bytes: usize) -> Self {
        self.limits.max_head = bytes;
        self
    }

    /// How long a client may take nothing of a response before its connection is
    /// closed (default [`DEFAULT_WRITE_TIMEOUT`]): a stream whose client stopped reading
    /// costs nothing after that.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.limits.write = timeout;
        self
    }

    /// Serves over TLS (feature `tls`): every connection starts with a handshake, which
    /// must end within the header timeout; then HTTP/2 or HTTP/1.1, as ALPN chose.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Serves until `signal` completes, then shuts down gracefully within the drain
    /// timeout.
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
        }
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self, std::future::pending()))
    }
}

/// A server with a shutdown signal. `.await` it to serve.
#[must_use = "a server does nothing until it is awaited"]
pub struct WithGracefulShutdown<F> {
    serve: Serve,
    signal: F,
}

impl<F> std::fmt::Debug for WithGracefulShutdown<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .finish_non_exhaustive()
    }
}

impl<F: Future<Output = ()> + Send + 'static> IntoFuture for WithGracefulShutdown<F> {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.serve, self.signal))
    }
}

async fn run(serve: Serve, signal: impl Future<Output = ()> + Send) -> io::Result<()> {
    let Serve {
        listener,
        app,
        limits,
        #[cfg(feature = "tls")]
        tls,
    } = serve;
    let (draining, stopping) = watch::channel(false);
    // Every connection holds a sender; when the last is dropped, all are closed.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let connections = Connections::default();
    let mut signal = pin!(signal);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = signal.as_mut() => break,
        };
        // Events are small writes that should leave at once.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let stopping = stopping.clone();
        let open = open.clone();
        #[cfg(feature = "tls")]
        let tls = tls.clone();
        connections.spawn(|key, connections| async move {
            #[cfg(feature = "tls")]
            if let Some(tls) = tls {
                // Boxed, so that a plain connection's task is not sized for TLS.
                Box::pin(tls::run(tls, tcp, peer, app, stopping, limits)).await;
                connections.forget(key);
                drop(open);
                return;
            }
            connection::run(tcp, peer, app, stopping, limits).await;
            connections.forget(key);
            drop(open);
        });
    }
    drop(listener);
    crate::shutdown();
    let _ = draining.send(true);
    drop(open);
    if tokio::time::timeout(limits.drain, all_closed.recv())
        .await
        .is_err()
    {
        tracing::info!(
            drain = ?limits.drain,
            "connections still open after the drain timeout are closed"
        );
        connections.abort_all();
        let _ = all_closed.recv().await;
    }
    Ok(())
}

/// The connections being served, so that those still open when the drain timeout has
/// passed can be closed. A handle each: the task of an idle stream keeps no room for
/// the shutdown.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<Tasks>>);

#[derive(Default)]
struct Tasks {
    open: HashMap<u64, AbortHandle>,
    next: u64,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Tasks> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns the task `serve(key, connections)` makes, and keeps its handle until it
    /// forgets it.
    fn spawn<F>(&self, serve: impl FnOnce(u64, Connections) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Under the lock, so that a task that ends at once forgets its handle after it
        // was kept.
        let mut tasks = self.lock();
        let key = tasks.next;
        tasks.next += 1;
        let task = tokio::spawn(serve(key, self.clone()));
        tasks.open.insert(key, task.abort_handle());
    }

    fn forget(&self, key: u64) {
        self.lock().open.remove(&key);
    }

    fn abort_all(&self) {
        for (_, task) in self.lock().open.drain() {
            task.abort();
        }
    }
}

/// Completes once the server stops taking requests.
pub(crate) async fn draining(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|draining| *draining).await;
}
