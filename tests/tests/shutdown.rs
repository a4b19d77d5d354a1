//! `sse_runtime::shutdown()` ends every stream, so axum's graceful shutdown returns
//! promptly. (A binary of its own: shutdown is process-wide.)

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use tests::{Client, PATIENCE};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A generator view that would run for an hour.
#[sse_view("/forever")]
async fn forever(sse: &mut Sse) {
    sse.add_message("hello", "forever");
    sse.flush().await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// A channel view nobody sends to.
#[sse_view("/quiet", channel = "quiet")]
pub struct Quiet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_returns_within_a_second_with_1000_streams_open() {
    let app: Router = sse_routes![forever, Quiet].layer(Extension(Hub::embedded()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                sse_runtime::shutdown();
            })
            .into_future(),
    );
    let mut clients = join_all((0..1000).map(|n| {
        let path = if n % 2 == 0 { "/forever" } else { "/quiet" };
        Client::get(addr, path, &[])
    }))
    .await;
    assert!(clients.iter().all(|client| client.status == 200));
    assert_eq!(sse_runtime::open_streams(), 1000);

    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(1), server)
        .await
        .expect("axum::serve returns within 1 s")
        .expect("the server task")
        .expect("serve");
    println!("graceful shutdown took {:?}", started.elapsed());
    assert_eq!(sse_runtime::open_streams(), 0);
    for client in &mut clients {
        while client.frame_within(PATIENCE).await.is_some() {}
    }
}
