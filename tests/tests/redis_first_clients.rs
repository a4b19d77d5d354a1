//! The first clients of a process start its subscriber, whose first subscription is
//! filled from history as after a gap. (A binary of its own: its subscriber loses its
//! Redis when the test ends, which `redis_faults` and `redis_gaps` would count.)

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::redis_server::RedisServer;
use tests::{serve, take_events, Client};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// The first clients of a process start its subscriber, whose first subscription is
/// filled from history as after a gap, from a second before it by Redis's clock: they
/// may get what was sent just before they came (README, "What is not guaranteed"), and
/// not what is older (the quiet room of `redis_gaps`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_clients_of_a_process_may_get_what_was_sent_just_before_they_came() {
    let redis = RedisServer::start();
    let sending = Hub::redis(&redis.url()).unwrap();
    sending
        .send_event("n", "just before", "room:0")
        .await
        .unwrap();
    let listening = Hub::redis(&redis.url()).unwrap();
    let app: Router = sse_routes![Live].layer(Extension(listening.clone()));
    let addr = serve(app).await;
    let mut events = Client::get(addr, "/live/0", &[]).await.events();
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.numsub("room:0") < 1 {
        assert!(Instant::now() < deadline, "the room is listened to");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sending.send_event("n", "after", "room:0").await.unwrap();
    let got = take_events(&mut events, 2).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["just before", "after"]);
}
