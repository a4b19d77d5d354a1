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
//! HTTP/2 is left to `axum::serve`: event streams are HTTP/1.1 traffic in practice (a
//! browser's `EventSource` over HTTP/2 goes through a proxy that speaks HTTP/1.1
//! upstream). Trailers of a response body are not sent, as hyper sends them only to
//! clients that ask with `TE: trailers`.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

mod connection;
mod request;
mod write;

/// Serves `app` on `listener` until the process ends.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// sse_runtime::serve(listener, app).await
/// # }
/// ```
pub async fn serve(listener: TcpListener, app: Router) -> io::Result<()> {
    serve_with_shutdown(listener, app, std::future::pending()).await
}

/// Serves `app` on `listener` until `signal` completes; then stops accepting, ends every
/// stream of the process (as [`shutdown`](crate::shutdown) does), lets the requests in
/// flight finish, and returns once every connection is closed.
///
/// ```no_run
/// # async fn run(app: axum::Router, stop: tokio::sync::oneshot::Receiver<()>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// sse_runtime::serve_with_shutdown(listener, app, async move {
///     let _ = stop.await; // or tokio::signal::ctrl_c(), a SIGTERM handler...
/// })
/// .await
/// # }
/// ```
pub async fn serve_with_shutdown(
    listener: TcpListener,
    app: Router,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let (stopping, stop) = watch::channel(false);
    // Every connection holds a sender; when the last is dropped, all are closed.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
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
        let stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            connection::run(tcp, peer, app, stop).await;
            drop(open);
        });
    }
    drop(listener);
    crate::shutdown();
    let _ = stopping.send(true);
    drop(open);
    let _ = all_closed.recv().await;
    Ok(())
}
