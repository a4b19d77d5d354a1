//! A serve function for apps whose connections mostly hold streams: HTTP/1.1 only, and a
//! graceful shutdown that ends the streams first.
//!
//! `axum::serve` works with every view of this crate. This one costs less per idle
//! connection: hyper-util's automatic HTTP/1-or-2 builder, which `axum::serve` uses,
//! reads ahead to detect HTTP/2 and hands the bytes back, which doubles hyper's read
//! buffer for the life of the connection; hyper's HTTP/1 builder does not. Event streams
//! are HTTP/1.1 traffic in practice (a browser's `EventSource` over HTTP/2 goes through
//! a proxy that speaks HTTP/1.1 upstream), so HTTP/2 is left to `axum::serve`.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

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
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
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
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let mut connection =
                pin!(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
            let stopping = async {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
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
