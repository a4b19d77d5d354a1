//! How an application tests its views with the test kit (`sse-test`): the `typed`
//! example's router on a loopback port with a hub of its own, a real client, typed
//! expectations.

use std::time::Duration;

use sse_test::TestServer;

#[path = "../typed/app.rs"]
mod app;

use app::{router, Room, RoomEvent, Tick};

#[tokio::test]
async fn a_room_hears_what_its_publisher_sends_and_nothing_of_other_rooms() {
    let server = TestServer::start(router()).await;
    let mut seven = server.get("/rooms/7/events").await;
    let joined = RoomEvent::Joined { name: "ann".into() };
    Room::channel_on(server.hub(), &8)
        .send(&joined)
        .await
        .unwrap();
    Room::channel_on(server.hub(), &7)
        .send(&joined)
        .await
        .unwrap();
    let received = seven.expect(&joined).await;
    assert_eq!(received.json::<serde_json::Value>()["name"], "ann");
    seven.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_countdown_resumes_after_the_last_tick() {
    let server = TestServer::start(router()).await;
    let mut ticks = server.get("/countdown/1").await;
    ticks
        .expect(&Tick {
            left: 1,
            done: false,
        })
        .await;
    let mut ticks = ticks.reconnect().await;
    ticks
        .expect(&Tick {
            left: 0,
            done: true,
        })
        .await;
    ticks.assert_ends().await;
}
