//! `sse_runtime::serve_with_shutdown`: streams flow over it, and its shutdown ends them
//! and returns promptly. (A binary of its own: shutdown is process-wide.)

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use tests::{take_events, Client};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A channel per room.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Rooms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_flow_and_the_shutdown_ends_them() {
    let hub = Hub::embedded();
    let app: Router = sse_routes![Rooms].layer(Extension(hub.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(sse_runtime::serve_with_shutdown(
        listener,
        app,
        async move {
            let _ = stopped.await;
        },
    ));
    let clients = join_all((0..200).map(|_| Client::get(addr, "/rooms/lobby", &[]))).await;
    assert!(clients.iter().all(|client| client.status == 200));
    hub.send_event("hello", "everyone", "room:lobby")
        .await
        .unwrap();
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    for events in &mut streams {
        assert_eq!(take_events(events, 1).await[0].data, "everyone");
    }

    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(1), server)
        .await
        .expect("serve_with_shutdown returns within 1 s")
        .expect("the server task")
        .expect("serve");
    println!("shutdown took {:?}", started.elapsed());
    for events in &mut streams {
        assert!(
            take_events(events, 1).await.is_empty(),
            "every stream ended"
        );
    }
}
