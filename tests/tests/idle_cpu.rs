//! Idle streams cost no CPU: a feed and a single channel with nothing to send wait,
//! rather than spin. (A binary of its own: it reads the whole process's CPU time.)

use std::time::Duration;

use axum::extract::Query;
use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::{serve, take_events, Client};

/// The channels of the query, as one stream.
#[sse_view("/feed", channel = named)]
pub struct Feed;

async fn named(Query(pairs): Query<Vec<(String, String)>>) -> Vec<String> {
    let channels = pairs.into_iter().filter(|(key, _)| key == "channel");
    channels.map(|(_, channel)| channel).collect()
}

/// One channel.
#[sse_view("/one", channel = "one")]
pub struct One;

/// This process's CPU time so far (user and system), from `/proc/self/stat`.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_wait_rather_than_spin() {
    let hub = Hub::embedded();
    let app: Router = sse_routes![Feed, One].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let mut feed = Client::get(addr, "/feed?channel=a&channel=b", &[])
        .await
        .events();
    let mut one = Client::get(addr, "/one", &[]).await.events();
    // Each has written, so each is past its start and waits for the live events.
    hub.send_event("n", "1", "a").await.unwrap();
    hub.send_event("n", "1", "one").await.unwrap();
    take_events(&mut feed, 1).await;
    take_events(&mut one, 1).await;
    let before = cpu();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu() - before;
    // A stream that spins takes a core: 2 s of CPU here.
    assert!(
        spent < Duration::from_millis(500),
        "idle streams spent {spent:?} of CPU in 2 s"
    );
    hub.send_event("n", "2", "b").await.unwrap();
    let event = take_events(&mut feed, 1).await.remove(0);
    assert_eq!((event.event.as_str(), event.data.as_str()), ("b/n", "2"));
}
