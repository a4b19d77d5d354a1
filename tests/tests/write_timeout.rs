//! A client that stops reading costs nothing for long: `serve` closes its connection
//! once it has taken nothing for the write timeout, and the view's body is dropped.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use sse_runtime::prelude::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

static BODY_DROPPED: AtomicBool = AtomicBool::new(false);

/// Sets [`BODY_DROPPED`] when the view's body is dropped.
struct Dropped;

impl Drop for Dropped {
    fn drop(&mut self) {
        BODY_DROPPED.store(true, Ordering::SeqCst);
    }
}

/// Writes 64 KiB events as fast as the client takes them, forever.
#[sse_view("/firehose")]
async fn firehose(sse: &mut Sse) {
    let _dropped = Dropped;
    let data = "x".repeat(64 * 1024);
    loop {
        sse.add_message("chunk", &data);
        sse.flush().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_client_reads_nothing_is_closed_after_the_write_timeout() {
    let app: Router = sse_routes![firehose];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        sse_runtime::serve(listener, app)
            .write_timeout(Duration::from_millis(500))
            .into_future(),
    );
    // A client that asks and never reads a byte.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /firehose HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    while !BODY_DROPPED.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stalled stream is closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "a client reading nothing was cut off after {:?}",
        started.elapsed()
    );
    assert_eq!(sse_runtime::open_streams(), 0);
    drop(tcp);
}
