//! A chat room in one page: people in the same room see each other's messages live,
//! their direct messages, and how many are in the room, all on one `EventSource` (a
//! feed of the room's channel and the reader's own, with presence). It runs on the
//! embedded hub with nothing configured, and on Redis when `SSE_REDIS_URL` is set, so
//! several instances can share rooms.
//!
//! ```text
//! cargo run -p examples --example chat
//! # open http://127.0.0.1:3000/ in two browser tabs, or:
//! curl -N http://127.0.0.1:3000/rooms/lobby/events             # the room alone
//! curl -N 'http://127.0.0.1:3000/rooms/lobby/feed?name=ann'      # the page's stream
//! curl -H 'content-type: application/json' -d '{"name":"ann","text":"hi"}' \
//!      http://127.0.0.1:3000/rooms/lobby/messages
//! curl -H 'content-type: application/json' -d '{"name":"bob","text":"psst"}' \
//!      http://127.0.0.1:3000/dm/ann
//! curl http://127.0.0.1:3000/metrics      # open streams, events delivered, ...
//! ```

use std::process::ExitCode;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Json;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::{Deserialize, Serialize};
use sse_runtime::prelude::*;

#[path = "../common/mod.rs"]
mod common;

/// The page: plain HTML and a little JavaScript, no build step.
const PAGE: &str = include_str!("page.html");

/// Everything said in a room, as it is said.
#[sse_view("/rooms/{room}/events", channel = "chat:{room}", retry = Duration::from_secs(1))]
pub struct RoomEvents;

/// What the page streams: the room and the reader's direct messages, with who comes and
/// goes in the room (`sse-presence` events that carry the count).
#[sse_view("/rooms/{room}/feed", channel = reader, presence = true, retry = Duration::from_secs(1))]
pub struct RoomFeed;

#[derive(Deserialize)]
struct Reader {
    name: String,
}

/// The room's channel and the reader's own, the reader named in the room's news. A
/// name that can take direct messages is 1 to 40 letters, digits, `-`, `_` or `.`.
async fn reader(
    Path(room): Path<String>,
    Query(reader): Query<Reader>,
) -> Result<Channels, (StatusCode, &'static str)> {
    if !dm_name(&reader.name) {
        return Err((
            StatusCode::BAD_REQUEST,
            "a name has 1 to 40 letters, digits, `-`, `_` or `.`",
        ));
    }
    let channels = [format!("chat:{room}"), format!("dm:{}", reader.name)];
    Ok(Channels::many(channels).member(reader.name))
}

fn dm_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (1..=40).contains(&name.len()) && name.chars().all(allowed)
}

/// One message, as posted and as streamed.
#[derive(Deserialize, Serialize)]
struct Message {
    name: String,
    text: String,
}

async fn post_message(
    Path(room): Path<String>,
    Json(message): Json<Message>,
) -> Result<StatusCode, (StatusCode, String)> {
    let refuse = |reason: &str| Err((StatusCode::BAD_REQUEST, reason.to_owned()));
    if message.name.trim().is_empty() || message.name.chars().count() > 40 {
        return refuse("a name has 1 to 40 characters");
    }
    if message.text.trim().is_empty() || message.text.chars().count() > 1000 {
        return refuse("a message has 1 to 1000 characters");
    }
    Hub::global()
        .send_json("message", &message, &format!("chat:{room}"))
        .await
        .map_err(|error| (error.status(), error.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A direct message to `to`, who hears it on their page's stream.
async fn post_dm(
    Path(to): Path<String>,
    Json(message): Json<Message>,
) -> Result<StatusCode, (StatusCode, String)> {
    if !dm_name(&to) || !dm_name(&message.name) {
        let reason = "a name has 1 to 40 letters, digits, `-`, `_` or `.`";
        return Err((StatusCode::BAD_REQUEST, reason.to_owned()));
    }
    if message.text.trim().is_empty() || message.text.chars().count() > 1000 {
        return Err((
            StatusCode::BAD_REQUEST,
            "a message has 1 to 1000 characters".to_owned(),
        ));
    }
    Hub::global()
        .send_json("message", &message, &format!("dm:{to}"))
        .await
        .map_err(|error| (error.status(), error.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[tokio::main]
async fn main() -> ExitCode {
    // The crate's figures (open streams, events delivered, ...) in Prometheus's text
    // format at `GET /metrics`; installed before serving.
    let metrics = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("cannot record metrics: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app: axum::Router = sse_routes![RoomEvents, RoomFeed]
        .route("/", get(|| async { Html(PAGE) }))
        .route("/rooms/{room}/messages", post(post_message))
        .route("/dm/{name}", post(post_dm))
        .route("/metrics", get(move || async move { metrics.render() }));
    common::serve(app, "chat at http://{addr}/ ; or curl -N http://{addr}/rooms/lobby/events and post with curl -H 'content-type: application/json' -d '{\"name\":\"ann\",\"text\":\"hi\"}' http://{addr}/rooms/lobby/messages").await
}
