//! The `typed` example's application: its events, its views and its router, apart from
//! `main` so that its tests (`examples/tests/typed.rs`) serve the same router.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use sse_runtime::prelude::*;

/// What a room's clients hear: `event: said` with `{"name":..,"text":..}`, or
/// `event: joined` with `{"name":..}`.
#[derive(SseEvent)]
pub(crate) enum RoomEvent {
    Said { name: String, text: String },
    Joined { name: String },
}

/// A room's events. Rooms are numbers: `/rooms/7/events` and `/rooms/007/events` are one
/// room, and `/rooms/kitchen/events` is a `400`.
#[sse_view("/rooms/{room}/events", channel = "room:{room}", event = RoomEvent, params(room: u32))]
pub(crate) struct Room;

/// One tick of a countdown: `event: tick`, its number as the id.
#[derive(SseEvent)]
pub(crate) struct Tick {
    #[sse(id)]
    pub(crate) left: u32,
    pub(crate) done: bool,
}

/// Counts down from `from` (or from below the client's last id) to 0, a tick a second.
#[sse_view("/countdown/{from}")]
pub(crate) fn countdown(Path(from): Path<u32>, last: LastEventId) -> impl Stream<Item = Tick> {
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

/// Every route of the example.
pub(crate) fn router() -> Router {
    sse_routes![Room, countdown]
        .route("/rooms/{room}/messages", post(post_message))
        .route("/rooms/{room}/members/{name}", post(join))
}
