//! Redis going away and coming back: streams stay open, sending fails loudly meanwhile,
//! and every event sent after recovery arrives. (A binary of its own: it counts log lines,
//! so no other test in it may have a subscriber whose Redis goes away.)

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use futures_util::StreamExt;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::redis_server::RedisServer;
use tests::{logs, serve, take_events, Client};

/// A channel per room, with a short keep-alive so that idle streams show they are alive.
#[sse_view("/live/{room}", channel = "room:{room}", keep_alive = Duration::from_millis(200))]
pub struct Live;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_survive_a_redis_crash_and_get_everything_sent_after_recovery() {
    logs::capture();
    let mut redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let clients = join_all((0..10).map(|_| Client::get(addr, "/live/a", &[]))).await;
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    // One more client, read as raw bytes: its keep-alive comments during the outage.
    let mut watcher = Client::get(addr, "/live/a", &[]).await;
    for n in 0..20 {
        hub.send_event("n", n.to_string(), "room:a").await.unwrap();
    }
    for events in &mut streams {
        let got = take_events(events, 20).await;
        assert_eq!(got.last().unwrap().data, "19");
    }

    let mut before = String::new();
    while !before.contains("data: 19\n") {
        let frame = watcher.frame_within(tests::PATIENCE).await.expect("open");
        before.push_str(std::str::from_utf8(&frame).expect("UTF-8"));
    }
    redis.kill();
    // While Redis is down, the streams stay open and idle: keep-alive comments (one
    // every 200 ms) and nothing else.
    let mut outage = Vec::new();
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(2) {
        let frame = watcher.frame_within(Duration::from_secs(1)).await;
        outage.extend_from_slice(&frame.expect("the stream stays open while Redis is down"));
    }
    let outage = String::from_utf8(outage).expect("UTF-8");
    let keep_alives = outage.matches(":\n\n").count();
    assert!(
        keep_alives >= 5 && !outage.contains("data:"),
        "keep-alive goes on during the outage: {outage:?}"
    );
    let lost = hub.send_event("n", "lost", "room:a").await;
    assert!(
        matches!(lost, Err(Error::Redis(_))),
        "sending while Redis is down fails: {lost:?}"
    );
    redis.restart();

    // Recovered: the subscriber is back on the channel and a send goes through.
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.numsub("room:a") < 1 {
        assert!(
            Instant::now() < deadline,
            "the hub resubscribes after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut n = 20;
    while n < 40 {
        match hub.send_event("n", n.to_string(), "room:a").await {
            Ok(()) => n += 1,
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "sending works again after the restart"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    for (index, events) in streams.iter_mut().enumerate() {
        let got = take_events(events, 20).await;
        let data: Vec<String> = got.iter().map(|event| event.data.clone()).collect();
        let expected: Vec<String> = (20..40).map(|n: i32| n.to_string()).collect();
        assert_eq!(
            data, expected,
            "client {index}, on the stream it had before the crash"
        );
    }
    // No late duplicate: for a second after the last event (five keep-alives), every
    // stream stays open and gives no other event.
    let late = join_all(
        streams
            .iter_mut()
            .map(|events| tokio::time::timeout(Duration::from_secs(1), events.next())),
    )
    .await;
    for (index, late) in late.into_iter().enumerate() {
        assert!(late.is_err(), "client {index} got more: {late:?}");
    }

    let lost_lines = logs::containing("lost the Redis subscriber connection");
    let back_lines = logs::containing("the Redis subscriber connection is back");
    assert_eq!(
        (lost_lines.len(), back_lines.len()),
        (1, 1),
        "one line per transition, not per client: {lost_lines:?} {back_lines:?}"
    );
}

/// The command connection is forgotten as soon as Redis closes it, not on the first send
/// that fails on it: the first send after Redis is back succeeds, on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_send_after_redis_is_back_succeeds() {
    let mut redis = RedisServer::start();
    let hub = Hub::builder().redis_url(redis.url()).build().unwrap();
    hub.send_event("n", "before", "room").await.expect("sent");
    redis.kill();
    redis.restart();
    hub.send_event("n", "after", "room")
        .await
        .expect("the first send after the restart is sent");
}
