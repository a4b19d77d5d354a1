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

mod app;
#[path = "../common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> ExitCode {
    common::serve(app::router(), "typed rooms: curl -N http://{addr}/rooms/7/events and post with curl -H 'content-type: application/json' -d '{\"name\":\"ann\",\"text\":\"hi\"}' http://{addr}/rooms/7/messages ; a countdown at http://{addr}/countdown/3").await
}
