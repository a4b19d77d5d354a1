//! Large things on Redis: a resume over a history far larger than Redis's pub/sub
//! output limit, a 50 MB message published by another program, and histories bounded
//! in bytes. (A binary of its own: it reads the log lines the hub writes.)

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::redis_server::RedisServer;
use tests::{logs, serve, take_events, take_events_within, Client};

/// A channel per room.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Rooms;

fn app(hub: &Hub) -> Router {
    sse_routes![Rooms].layer(Extension(hub.clone()))
}

/// Sends 700 events of 60 KB to `room:big`: 42 MB, more than Redis's 32 MB pub/sub
/// output limit.
async fn send_42_mb(hub: &Hub) {
    let data = "x".repeat(60_000);
    for _ in 0..700 {
        hub.send_event("big", data.as_str(), "room:big")
            .await
            .expect("sent");
    }
}

/// The ids of every entry of a history stream.
fn history_ids(redis: &RedisServer, channel: &str) -> Vec<String> {
    let key = format!("sse:history:{channel}");
    match redis.query(&["XRANGE", &key, "-", "+"]).expect("XRANGE") {
        redis::Value::Array(entries) => entries
            .iter()
            .map(|entry| match entry {
                redis::Value::Array(parts) => match &parts[0] {
                    redis::Value::BulkString(id) => String::from_utf8_lossy(id).into_owned(),
                    other => panic!("an id: {other:?}"),
                },
                other => panic!("an entry: {other:?}"),
            })
            .collect(),
        other => panic!("XRANGE: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_over_a_history_larger_than_the_pub_sub_limit_streams_every_event() {
    let redis = RedisServer::start();
    let hub = Hub::builder()
        .redis_url(redis.url())
        .history_bytes(64 << 20)
        .build()
        .unwrap();
    let addr = serve(app(&hub)).await;
    // A client of another channel, which must not notice.
    let mut bystander = Client::get(addr, "/rooms/quiet", &[]).await.events();
    send_42_mb(&hub).await;
    let ids = history_ids(&redis, "room:big");
    assert_eq!(
        ids.len(),
        700,
        "42 MB of history, over Redis's 32 MB pub/sub limit"
    );
    let resuming = Client::get(addr, "/rooms/big", &[("last-event-id", &ids[0])]).await;
    let mut resumed = resuming.events();
    hub.send_event("hello", "still here", "room:quiet")
        .await
        .expect("a send to another channel goes through while the history is read");
    let got = take_events_within(&mut resumed, 699, Duration::from_secs(60)).await;
    let got_ids: Vec<&str> = got.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(
        got_ids,
        ids[1..],
        "every event after the id, once, in order"
    );
    let heard = take_events(&mut bystander, 1).await;
    assert_eq!(heard[0].data, "still here");
    assert_eq!(
        redis.subscriber_connections(),
        1,
        "the subscriber was never cut off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_message_from_another_program_loses_no_event_of_the_hub() {
    logs::capture();
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = serve(app(&hub)).await;
    let mut a = Client::get(addr, "/rooms/a", &[]).await.events();
    let mut b = Client::get(addr, "/rooms/b", &[]).await.events();
    hub.send_event("n", "a0", "room:a").await.expect("sent");
    assert_eq!(take_events(&mut a, 1).await[0].data, "a0");
    // Redis cuts off the subscriber rather than hold 50 MB for it.
    let huge = "y".repeat(50 << 20);
    redis.query(&["PUBLISH", "room:b", &huge]).expect("PUBLISH");
    // Sent while the subscriber is away or coming back: the gap is filled from history.
    hub.send_event("n", "a1", "room:a").await.expect("sent");
    hub.send_event("n", "b1", "room:b").await.expect("sent");
    assert_eq!(take_events(&mut a, 1).await[0].data, "a1");
    assert_eq!(take_events(&mut b, 1).await[0].data, "b1");
    hub.send_event("n", "a2", "room:a").await.expect("sent");
    assert_eq!(take_events(&mut a, 1).await[0].data, "a2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_on_redis_is_bounded_in_bytes_and_keeps_its_newest_events() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = serve(app(&hub)).await;
    send_42_mb(&hub).await;
    let ids = history_ids(&redis, "room:big");
    let held = ids.len() * 60_000;
    println!(
        "history after 42 MB sent: {} events, {} MB",
        ids.len(),
        held / 1_000_000
    );
    assert!(
        held <= 8 << 20 && ids.len() >= 130,
        "the default budget is 8 MiB per channel: {} events held",
        ids.len()
    );
    // The newest are kept, and resuming from the oldest kept one works.
    let resuming = Client::get(addr, "/rooms/big", &[("last-event-id", &ids[0])]).await;
    let got = take_events(&mut resuming.events(), ids.len() - 1).await;
    assert_eq!(got.last().unwrap().id, *ids.last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_payload_over_the_maximum_is_logged_and_skipped() {
    logs::capture();
    let redis = RedisServer::start();
    let hub = Hub::builder()
        .redis_url(redis.url())
        .max_event(1000)
        .build()
        .unwrap();
    let addr = serve(app(&hub)).await;
    let mut events = Client::get(addr, "/rooms/limit", &[]).await.events();
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.numsub("room:limit") < 1 {
        assert!(Instant::now() < deadline, "subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis
        .query(&["PUBLISH", "room:limit", &"z".repeat(100_000)])
        .expect("PUBLISH");
    redis
        .query(&["PUBLISH", "room:limit", "small"])
        .expect("PUBLISH");
    assert_eq!(take_events(&mut events, 1).await[0].data, "small");
    let lines = logs::containing("more than the hub's maximum event of 1000");
    assert_eq!(lines.len(), 1, "{lines:?}");
}
