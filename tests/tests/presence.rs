//! Presence: `Hub::presence` counts every stream on a channel, and a view with
//! `presence = true` tells its channel's clients who joined and left; reports to Redis
//! are batched, so their number does not grow with the number of joins.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query};
use axum::{Extension, Router};
use eventsource_stream::Event;
use serde_json::Value;
use sse_runtime::prelude::*;
use tests::backend::Backend;
use tests::{on_both_backends, serve, take_events, Client, PATIENCE};

/// `/rooms/{room}?name=ann`: ann in the room, announced by name.
async fn member(
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Channels {
    let channels = Channels::one(format!("room:{room}"));
    match query.get("name") {
        Some(name) => channels.member(name.as_str()),
        None => channels,
    }
}

/// A room that tells its listeners who comes and goes.
#[sse_view("/rooms/{room}", channel = member, presence = true)]
pub struct Room;

/// The same channels, counted but not announced.
#[sse_view("/quiet/{room}", channel = "room:{room}")]
pub struct Quiet;

fn app(hub: &Hub) -> Router {
    sse_routes![Room, Quiet].layer(Extension(hub.clone()))
}

on_both_backends!(members_hear_who_comes_and_goes_and_every_stream_is_counted);

/// Waits until `hub.presence(channel)` is `count`.
async fn presence_becomes(hub: &Hub, channel: &str, count: usize) {
    let start = Instant::now();
    loop {
        let now = hub.presence(channel).await.expect("presence");
        if now == count {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "presence of {channel} is {now}, not {count}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The data of a presence event.
fn presence_of(event: &Event) -> Value {
    assert_eq!(event.event, sse_runtime::PRESENCE_EVENT, "{event:?}");
    assert!(event.id.is_empty(), "presence news has no id: {event:?}");
    serde_json::from_str(&event.data).expect("JSON")
}

async fn members_hear_who_comes_and_goes_and_every_stream_is_counted(backend: Backend) {
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let mut ann = Client::get(addr, "/rooms/x?name=ann", &[]).await.events();
    let news = presence_of(&take_events(&mut ann, 1).await[0]);
    assert_eq!(
        news,
        serde_json::json!({"channel": "room:x", "count": 1, "joined": ["ann"], "left": []})
    );
    // A stream of a view without presence is counted, and not announced.
    let quiet = Client::get(addr, "/quiet/x", &[]).await;
    presence_becomes(&hub, "room:x", 2).await;
    let bob = Client::get(addr, "/rooms/x?name=bob", &[]).await;
    let news = presence_of(&take_events(&mut ann, 1).await[0]);
    assert_eq!(
        news,
        serde_json::json!({"channel": "room:x", "count": 3, "joined": ["bob"], "left": []})
    );
    drop(bob);
    let news = presence_of(&take_events(&mut ann, 1).await[0]);
    assert_eq!(
        news,
        serde_json::json!({"channel": "room:x", "count": 2, "joined": [], "left": ["bob"]})
    );
    // Without a name, a member is anonymous, and still told apart.
    let anonymous = Client::get(addr, "/rooms/x", &[]).await;
    let news = presence_of(&take_events(&mut ann, 1).await[0]);
    let joined = news["joined"][0].as_str().expect("a name");
    assert!(joined.starts_with("anonymous:"), "{news}");
    drop((anonymous, quiet));
    presence_becomes(&hub, "room:x", 1).await;
    // Events sent to the room still come, after the news.
    hub.send_event("said", "hi", "room:x").await.unwrap();
    let said = loop {
        let event = take_events(&mut ann, 1).await.remove(0);
        if event.event != sse_runtime::PRESENCE_EVENT {
            break event;
        }
    };
    assert_eq!((said.event.as_str(), said.data.as_str()), ("said", "hi"));
    assert_eq!(hub.presence("room:empty").await.unwrap(), 0);
    assert!(hub.presence("bad name").await.is_err());
}

/// Scripts Redis has run: every presence report is one.
fn scripts_run(backend: &Backend) -> u64 {
    let redis = backend.redis.as_ref().expect("a Redis backend");
    let stats = redis.text(&["INFO", "commandstats"]);
    let calls = |name: &str| {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|calls| calls.parse::<u64>().ok())
            .unwrap_or(0)
    };
    calls("evalsha") + calls("eval")
}

/// Hundreds of streams joining and leaving a second, on as many channels: the reports
/// stay within 20 commands a second, and the counts settle at the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_reports_to_redis_do_not_grow_with_churn() {
    let backend = Backend::redis();
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let before = scripts_run(&backend);
    let start = Instant::now();
    let mut joins = 0;
    // Bounded: 20,000 joins or 2 seconds.
    while joins < 20_000 && start.elapsed() < Duration::from_secs(2) {
        let clients = futures_util::future::join_all((0..100).map(|n| {
            let path = format!("/rooms/churn-{}?name=m{n}", n % 10);
            async move { Client::get(addr, &path, &[]).await }
        }))
        .await;
        joins += clients.len();
        drop(clients);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let reports = scripts_run(&backend) - before;
    eprintln!("{joins} joins and leaves in {elapsed:.2} s: {reports} presence reports");
    assert!(joins >= 1_000, "the churn ran: {joins}");
    // One report may be on its way as the churn starts, one as it ends.
    assert!(
        (reports as f64) <= 20.0 * elapsed + 2.0,
        "{reports} reports for {joins} joins in {elapsed:.2} s"
    );
    let staying = Client::get(addr, "/quiet/churn-0", &[]).await;
    for room in 1..10 {
        presence_becomes(&hub, &format!("room:churn-{room}"), 0).await;
    }
    presence_becomes(&hub, "room:churn-0", 1).await;
    drop(staying);
}

/// A Redis that restarted empty learns every process's counts back with its next full
/// report (every 10 s), though no stream came or went meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_restarted_empty_learns_the_counts_back() {
    let mut backend = Backend::redis();
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let _ann = Client::get(addr, "/quiet/r", &[]).await.events();
    let _bob = Client::get(addr, "/quiet/r", &[]).await.events();
    presence_becomes(&hub, "room:r", 2).await;
    let redis = backend.redis.as_mut().expect("a Redis backend");
    redis.restart();
    assert_eq!(
        redis.query(&["EXISTS", "sse:presence:channel:room:r"]).ok(),
        Some(redis::Value::Int(0)),
        "Redis restarted empty"
    );
    let start = Instant::now();
    loop {
        if let Ok(2) = hub.presence("room:r").await {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "the counts are back within a full report"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two hubs on one Redis, as two processes would be: each reports its own streams under
/// a name of its own, so neither overwrites the other's count, and both read the sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_on_one_redis_count_a_channel_together() {
    let backend = Backend::redis();
    let (one, two) = (backend.hub(), backend.hub());
    let (at_one, at_two) = (serve(app(&one)).await, serve(app(&two)).await);
    let _ann = Client::get(at_one, "/quiet/shared", &[]).await;
    let _bob = Client::get(at_two, "/quiet/shared", &[]).await;
    let cy = Client::get(at_two, "/quiet/shared", &[]).await;
    presence_becomes(&one, "room:shared", 3).await;
    presence_becomes(&two, "room:shared", 3).await;
    drop(cy);
    presence_becomes(&one, "room:shared", 2).await;
    presence_becomes(&two, "room:shared", 2).await;
}
