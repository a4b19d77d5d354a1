//! Typed events and typed channels: the route, the publisher and the event type cannot
//! drift apart. A room's clients hear `RoomEvent`s; the handler that posts to a room
//! sends through `Room::channel(&room)`, which takes a room number and a `RoomEvent`
//! and nothing else. `/countdown/{from}` yields typed ticks from a stream.
//!
//! ```text
//! cargo run -p examples --example typed
//! curl -N http://127.0.0.1:3000/rooms/7/events
//! curl -H 'content-type: application/json' -d '{"name":"ann","text":"hi"}' \
//!      http://127.0.0.1:3000/rooms/7/messages
//! curl -N http://127.0.0.1:3000/countdown/3
//! ```

use std::process::ExitCode;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde::Deserialize;
use sse_runtime::prelude::*;

#[path = "common/mod.rs"]
mod common;

/// What a room's clients hear: `event: said` with `{"name":..,"text":..}`, or
/// `event: joined` with `{"name":..}`.
#[derive(SseEvent)]
enum RoomEvent {
    Said { name: String, text: String },
    Joined { name: String },
}

/// A room's events. Rooms are numbers: `/rooms/7/events` and `/rooms/007/events` are one
/// room, and `/rooms/kitchen/events` is a `400`.
#[sse_view("/rooms/{room}/events", channel = "room:{room}", event = RoomEvent, params(room: u32))]
pub struct Room;

/// One tick of a countdown: `event: tick`, its number as the id.
#[derive(SseEvent)]
struct Tick {
    #[sse(id)]
    left: u32,
    done: bool,
}

/// Counts down from `from` (or from below the client's last id) to 0, a tick a second.
#[sse_view("/countdown/{from}")]
fn countdown(Path(from): Path<u32>, last: LastEventId) -> impl Stream<Item = Tick> {
    let start = last
        .parse::<u32>()
        .map_or(from, |last| last.saturating_sub(1));
    stream! {
        for left in (0..=start.min(from)).rev() {
            yield Tick { left, done: left == 0 };
            if left > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[derive(Deserialize)]
struct Message {
    name: String,
    text: String,
}

async fn post_message(
    Path(room): Path<u32>,
    Json(message): Json<Message>,
) -> Result<StatusCode, (StatusCode, String)> {
    let event = RoomEvent::Said {
        name: message.name,
        text: message.text,
    };
    Room::channel(&room)
        .send(&event)
        .await
        .map_err(|error| (error.status(), error.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn join(Path((room, name)): Path<(u32, String)>) -> Result<StatusCode, (StatusCode, String)> {
    Room::channel(&room)
        .send(&RoomEvent::Joined { name })
        .await
        .map_err(|error| (error.status(), error.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![Room, countdown]
        .route("/rooms/{room}/messages", post(post_message))
        .route("/rooms/{room}/members/{name}", post(join));
    common::serve(app, "typed rooms: curl -N http://{addr}/rooms/7/events and post with curl -H 'content-type: application/json' -d '{\"name\":\"ann\",\"text\":\"hi\"}' http://{addr}/rooms/7/messages ; a countdown at http://{addr}/countdown/3").await
}

/// How an application tests its views with the test kit: the router on a loopback port
/// with a hub of its own, a real client, typed expectations.
#[cfg(test)]
mod tests {
    use super::*;
    use sse_test::TestServer;

    #[tokio::test]
    async fn a_room_hears_what_its_publisher_sends_and_nothing_of_other_rooms() {
        let server = TestServer::start(sse_routes![Room]).await;
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
        let server = TestServer::start(sse_routes![countdown]).await;
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
}
