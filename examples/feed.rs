//! Several channels on one `EventSource`, and how many listen: a browser holds six
//! HTTP/1.1 connections per host for all its tabs, so an app streams every channel a
//! page needs on one.
//!
//! - `GET /feed?channel=a&channel=b` streams the channels named (at most 32): each
//!   event's type is its channel (`a`, or `a/alert` for an event named `alert`), and its
//!   id is a cursor that resumes every channel at once.
//! - `POST /send/{channel}` sends the request's body as an event's data; answers `sent`.
//! - `GET /presence/{channel}` answers `{"channel":"a","count":N}`: the streams on the
//!   channel in every instance that shares the hub.
//!
//! ```text
//! cargo run -p examples --example feed
//! curl -N 'http://127.0.0.1:3000/feed?channel=a&channel=b'
//! curl -d hello http://127.0.0.1:3000/send/a
//! curl http://127.0.0.1:3000/presence/a
//! ```

use std::process::ExitCode;

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::Json;
use serde::Serialize;
use sse_runtime::prelude::*;

#[path = "common/mod.rs"]
mod common;

/// The channels the query names, in their order; none is answered `400`.
async fn named(Query(pairs): Query<Vec<(String, String)>>) -> Vec<String> {
    let channels = pairs.into_iter().filter(|(key, _)| key == "channel");
    channels.map(|(_, channel)| channel).collect()
}

/// The channels of `?channel=...`, as one stream.
#[sse_view("/feed", channel = named)]
pub struct Feed;

async fn send(
    Path(channel): Path<String>,
    data: String,
) -> Result<&'static str, sse_runtime::Error> {
    Hub::global()
        .send(&channel, &Event::new().data(data))
        .await?;
    Ok("sent")
}

#[derive(Serialize)]
struct Presence {
    channel: String,
    count: usize,
}

async fn presence(Path(channel): Path<String>) -> Result<Json<Presence>, sse_runtime::Error> {
    let count = Hub::global().presence(&channel).await?;
    Ok(Json(Presence { channel, count }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![Feed]
        .route("/send/{channel}", post(send))
        .route("/presence/{channel}", get(presence));
    common::serve(
        app,
        "stream with curl -N 'http://{addr}/feed?channel=a&channel=b' ; send with curl -d hi http://{addr}/send/a ; count with curl http://{addr}/presence/a",
    )
    .await
}
