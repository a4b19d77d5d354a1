//! One connection of [`serve`](super::serve), over TCP or TLS: GET requests over HTTP/1.1
//! are answered here, and an open stream holds no buffer at all; the first request of
//! any other kind hands the connection to hyper, with the bytes already read, and so
//! does HTTP/2.

use std::convert::Infallible;
use std::future::{poll_fn, ready, Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use axum::http::header::HOST;
use axum::http::Version;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use bytes::{Buf, Bytes};
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tower_service::Service;
use tracing::instrument::{Instrument, Instrumented};
use tracing::Span;

use super::draining;
use super::limits::Limits;
use super::request::Refusal;
use super::socket::{Inbound, Next, Socket};
use super::write::{self, Written};

/// Serves the requests of `socket` until the client leaves or, between two requests,
/// `stop` turns true.
pub(super) async fn run(
    mut socket: impl Socket,
    peer: SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) {
    let mut inbound = Inbound::default();
    loop {
        // In blocks of their own, so that neither the request nor the response is held
        // in this task while the response streams.
        let writing = {
            let (response, keep_alive) = {
                let next = tokio::select! {
                    next = inbound.next_request(&mut socket, &limits) => next,
                    () = draining(&mut stop) => return,
                };
                match next {
                    Ok(Next::Simple(mut request, keep_alive)) => {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        let span = request_span(peer);
                        (call(&app, *request).instrument(span).await, keep_alive)
                    }
                    Ok(Next::Refused(refusal)) => (refusal.response(), false),
                    Ok(Next::Other) => {
                        // Boxed: hyper's connection is larger than all the rest, and
                        // every connection's task would be sized for it.
                        let app = WithPeer { app, peer };
                        let pending = inbound.into_bytes();
                        return Box::pin(hand_to_hyper(socket, pending, app, stop, limits)).await;
                    }
                    Ok(Next::Http2) => {
                        let app = WithPeer { app, peer };
                        let pending = inbound.into_bytes();
                        return Box::pin(http2(socket, pending, app, stop)).await;
                    }
                    Ok(Next::Closed) | Err(_) => return,
                }
            };
            // Nor a buffer.
            inbound.shrink();
            write::response(
                &mut socket,
                response,
                keep_alive,
                &mut inbound,
                limits.write,
            )
        };
        match writing.await {
            Written::KeepAlive => {}
            Written::Close => return,
        }
    }
}

/// The span a request is answered in, at debug level: a stream's span is its child, so
/// that it tells the client's address whatever the view.
fn request_span(peer: SocketAddr) -> Span {
    tracing::debug_span!("request", client = %peer)
}

/// The app's response to `request`.
async fn call(app: &Router, request: Request) -> Response {
    let mut app = app.clone();
    // A router is always ready; asking is the contract of `Service`.
    let Ok(()) = poll_fn(|cx| Service::<Request>::poll_ready(&mut app, cx)).await;
    let Ok(response) = app.call(request).await;
    response
}

/// Lets hyper serve the rest of the connection, starting with the bytes in `pending`,
/// within the same limits on request heads.
async fn hand_to_hyper(
    socket: impl Socket,
    pending: Vec<u8>,
    app: WithPeer,
    stop: watch::Receiver<bool>,
    limits: Limits,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        .max_header_size(limits.max_head);
    let connection = builder.serve_connection(Replay::new(socket, pending), app);
    until_done(connection, stop, |connection| {
        connection.graceful_shutdown()
    })
    .await;
}

/// Lets hyper's HTTP/2 server serve the connection (h2c with prior knowledge, or `h2`
/// chosen by ALPN), starting with the bytes in `pending`; a shutdown sends GOAWAY, and
/// the streams, ended by the shutdown, finish.
pub(super) async fn http2(
    socket: impl Socket,
    pending: Vec<u8>,
    app: WithPeer,
    stop: watch::Receiver<bool>,
) {
    let builder = http2::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(Replay::new(socket, pending), app);
    until_done(connection, stop, |connection| {
        connection.graceful_shutdown()
    })
    .await;
}

/// Drives one of hyper's connections until it ends; when the server drains, asks it to
/// shut down gracefully (`graceful`) and lets it finish.
async fn until_done<C: Future>(
    connection: C,
    mut stop: watch::Receiver<bool>,
    graceful: fn(Pin<&mut C>),
) {
    let mut connection = pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = draining(&mut stop) => {
            graceful(connection.as_mut());
            let _ = connection.await;
        }
    }
}

/// The app, for hyper, with each request told where it comes from.
pub(super) struct WithPeer {
    pub(super) app: Router,
    pub(super) peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for WithPeer {
    type Response = Response;
    type Error = Infallible;
    type Future =
        Either<Ready<Result<Response, Infallible>>, Instrumented<RouteFuture<Infallible>>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // RFC 9112 §3.2, which hyper leaves to the service.
        if request.version() == Version::HTTP_11 && !request.headers().contains_key(HOST) {
            return Either::Left(ready(Ok(Refusal::NoHost.response())));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // A router is always ready, and each call works on a clone, as hyper-util's
        // adapter does.
        Either::Right(
            self.app
                .clone()
                .call(request)
                .instrument(request_span(self.peer)),
        )
    }
}

/// A connection that first gives back bytes already read from it.
struct Replay<S> {
    read: Bytes,
    socket: S,
}

impl<S> Replay<S> {
    /// `socket` for hyper, `pending` first.
    fn new(socket: S, pending: Vec<u8>) -> TokioIo<Replay<S>> {
        TokioIo::new(Replay {
            read: Bytes::from(pending),
            socket,
        })
    }
}

impl<S: Socket> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read.has_remaining() {
            let len = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..len]);
            self.read.advance(len);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.socket).poll_read(cx, buf)
    }
}

impl<S: Socket> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}
