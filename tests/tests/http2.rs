//! HTTP/2 on `sse_runtime::serve`, with prior knowledge (h2c) and over TLS chosen by
//! ALPN: many streams of a channel view on one connection, each receiving every event;
//! the other routes answered too; and a graceful shutdown that ends the streams and
//! sends GOAWAY. A real HTTP/2 client (hyper's), a real server.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sse_runtime::prelude::*;
use tests::PATIENCE;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

/// The channel every stream of the test reads.
#[sse_view("/news", channel = "news")]
pub struct News;

const STREAMS: usize = 100;
const EVENTS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_streams_on_one_http2_connection_each_get_every_event_with_or_without_tls() {
    // One test for both, as a shutdown ends every stream of the process: both servers
    // stop once both have delivered.
    let delivered = Barrier::new(2);

    let h2c = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = Hub::embedded();
        let server = sse_runtime::serve(listener, app(&hub));
        let connect = async move { TcpStream::connect(addr).await.unwrap() };
        every_stream_gets_every_event(server, &hub, connect, "http", addr, &delivered).await;
    };

    let certificate = tests::tls::SelfSigned::new();
    let h2_over_tls = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = Hub::embedded();
        let server = sse_runtime::serve(listener, app(&hub)).tls(certificate.server());
        let connect = async {
            let tls = certificate.connect(addr.port(), &["h2", "http/1.1"]).await;
            assert_eq!(
                tls.get_ref().1.alpn_protocol(),
                Some(&b"h2"[..]),
                "ALPN chooses h2"
            );
            tls
        };
        every_stream_gets_every_event(server, &hub, connect, "https", addr, &delivered).await;
    };

    tokio::join!(h2c, h2_over_tls);
}

/// The app of the tests: the channel view on `hub`, and a page.
fn app(hub: &Hub) -> Router {
    sse_routes![News]
        .route("/page", get(|| async { "hello" }))
        .layer(Extension(hub.clone()))
}

/// Serves `server` and, over the connection `connect` makes to it, opens a hundred
/// streams that each get every event; then, once `delivered` is passed, shuts the server
/// down: every stream ends, and the connection with GOAWAY.
async fn every_stream_gets_every_event(
    server: sse_runtime::Serve,
    hub: &Hub,
    connect: impl Future<Output = impl AsyncRead + AsyncWrite + Unpin + Send + 'static>,
    scheme: &str,
    addr: SocketAddr,
    delivered: &Barrier,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        server
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let io = tokio::time::timeout(PATIENCE, connect)
        .await
        .expect("connected in time");
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("an HTTP/2 connection");
    let connection = tokio::spawn(connection);
    let addr = format!("localhost:{}", addr.port());

    let page = sender
        .clone()
        .send_request(
            Request::get(format!("{scheme}://{addr}/page"))
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .expect("a response");
    assert_eq!(page.version(), axum::http::Version::HTTP_2);
    assert_eq!(
        page.into_body().collect().await.unwrap().to_bytes(),
        "hello"
    );

    let responses = join_all((0..STREAMS).map(|_| {
        let mut sender = sender.clone();
        let addr = &addr;
        async move {
            let request = Request::get(format!("{scheme}://{addr}/news"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            sender.send_request(request).await.expect("a stream")
        }
    }))
    .await;
    for response in &responses {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while hub.listened_channels() < 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for n in 0..EVENTS {
        hub.send_event("n", n.to_string(), "news").await.unwrap();
    }
    let expected: String = (0..EVENTS)
        .map(|n| format!("event: n\ndata: {n}\n\n"))
        .collect();
    let bodies = join_all(responses.into_iter().map(|response| {
        let expected = expected.clone();
        async move {
            let mut body = response.into_body();
            let mut text = String::new();
            // Ids first: each event is `event`, `id`, `data`; keep all but the ids.
            while text.len() < expected.len() {
                let frame = tokio::time::timeout(PATIENCE, body.frame())
                    .await
                    .expect("events in time")
                    .expect("the stream goes on")
                    .expect("a frame");
                if let Ok(data) = frame.into_data() {
                    let data = String::from_utf8(data.to_vec()).unwrap();
                    let kept: String = data
                        .split_inclusive('\n')
                        .filter(|line| !line.starts_with("id: "))
                        .collect();
                    text.push_str(&kept);
                }
            }
            (text, body)
        }
    }))
    .await;
    let mut open = Vec::new();
    for (text, body) in bodies {
        assert_eq!(text, expected);
        open.push(body);
    }

    // A graceful shutdown ends every stream, and the connection with GOAWAY.
    delivered.wait().await;
    stop.send(()).unwrap();
    for mut body in open {
        loop {
            match tokio::time::timeout(PATIENCE, body.frame())
                .await
                .expect("the end in time")
            {
                None => break,
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("the stream ended with an error: {error}"),
            }
        }
    }
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the connection closes")
        .unwrap()
        .expect("closed cleanly (GOAWAY)");
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server returns")
        .unwrap()
        .unwrap();
}
