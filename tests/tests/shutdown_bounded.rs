//! A graceful shutdown of `serve` ends within its drain timeout whatever clients do:
//! a stalled request body, a head that never ends, a stream nobody reads. Streams are
//! told to come back after a delay spread at random. (A binary of its own: shutdown is
//! process-wide.)

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use sse_runtime::prelude::*;
use tests::Client;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Writes 64 KiB events as fast as the client takes them, forever.
#[sse_view("/firehose")]
async fn firehose(sse: &mut Sse) {
    let data = "x".repeat(64 * 1024);
    loop {
        sse.add_message("chunk", &data);
        sse.flush().await;
    }
}

/// A generator that says hello and waits.
#[sse_view("/quiet")]
async fn quiet(sse: &mut Sse) {
    sse.add_message("hello", "quiet");
    sse.flush().await;
    std::future::pending::<()>().await;
}

async fn connect_and_send(addr: std::net::SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_ends_within_the_drain_timeout_whatever_clients_hold_open() {
    let app: Router = sse_routes![firehose, quiet].route(
        "/upload",
        post(|body: String| async move { body.len().to_string() }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let drain = Duration::from_millis(500);
    let server = tokio::spawn(
        sse_runtime::serve(listener, app)
            .drain_timeout(drain)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    // A POST whose body never comes, a head that never ends, a stream nobody reads.
    let _stalled_body = connect_and_send(
        addr,
        b"POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\nonly ten b",
    )
    .await;
    let mut endless_head = b"GET /quiet HTTP/1.1\r\nhost: test\r\ncookie: ".to_vec();
    endless_head.extend(std::iter::repeat_n(b'c', 20 * 1024));
    let _endless_head = connect_and_send(addr, &endless_head).await;
    let _not_reading =
        connect_and_send(addr, b"GET /firehose HTTP/1.1\r\nhost: test\r\n\r\n").await;
    // And one client that reads, to see how a stream ends.
    let mut reading = Client::get(addr, "/quiet", &[]).await;
    assert!(reading.frame_within(Duration::from_secs(5)).await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(drain + Duration::from_secs(2), server)
        .await
        .expect("serve returns within its drain timeout (and a margin)")
        .expect("the server task")
        .expect("serve");
    println!(
        "shutdown with stalled clients took {:?} (drain timeout {drain:?})",
        started.elapsed()
    );

    // The reading client was told when to come back: 1 to 5 s, then the stream ended.
    let mut rest = Vec::new();
    while let Some(frame) = reading.try_frame_within(Duration::from_secs(2)).await {
        rest.extend_from_slice(&frame);
    }
    let rest = String::from_utf8(rest).unwrap();
    let retry: u64 = rest
        .strip_prefix("retry: ")
        .and_then(|rest| rest.strip_suffix("\n\n"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("a last retry: field, then the end: {rest:?}"));
    assert!((1000..=5000).contains(&retry), "retry: {retry}");
}
