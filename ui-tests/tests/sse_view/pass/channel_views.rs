//! Every form of channel view compiles in a crate that denies warnings and missing docs.
#![deny(warnings, missing_docs)]

use axum::extract::{Path, State};
use axum::http::StatusCode;
use sse_runtime::prelude::*;

/// The application's state.
#[derive(Clone)]
pub struct AppState {
    secret: u32,
}

/// The seed's `RedisQueueView.as_view(redis_channel="foo")`.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

/// The design card's form: the path is given where the view is mounted.
#[sse_view(channel = "news")]
pub struct News;

/// A channel per room.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Room;

/// A template whose path is given where it is mounted.
#[sse_view(channel = "game:{id}")]
pub struct Game;

/// A resolver that takes no state.
#[sse_view("/users/{id}", channel = user_channel)]
pub struct User;

/// A resolver that takes state.
#[sse_view("/private/{id}", channel = private_channel, state = AppState)]
pub struct Private;

/// Several channels as one stream: names and templates.
#[sse_view("/users/{id}/feed", channels = ["news", "user:{id}"], presence = true)]
pub struct UserFeed;

/// A list whose path is given where it is mounted.
#[sse_view(channels = ["alerts", "game:{id}"])]
pub struct GameFeed;

/// A resolver that returns several channels and who listens.
#[sse_view("/inbox/{id}", channel = inbox_channels, presence = false)]
pub struct Inbox;

async fn inbox_channels(Path(id): Path<u32>) -> Channels {
    Channels::many([format!("inbox:{id}"), "notices".to_owned()]).member(id.to_string())
}

/// A resolver that returns a list.
#[sse_view("/tags", channel = tag_channels)]
pub struct Tags;

async fn tag_channels() -> Result<Vec<&'static str>, StatusCode> {
    Ok(vec!["tag:a", "tag:b"])
}

async fn user_channel(Path(id): Path<u32>) -> String {
    format!("user:{id}")
}

async fn private_channel(
    State(state): State<AppState>,
    Path(id): Path<u32>,
) -> Result<String, StatusCode> {
    if id == state.secret {
        Ok(format!("private:{id}"))
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

fn main() {
    let _app: axum::Router = sse_routes![
        Stream1,
        "/news" => News,
        Room,
        "/games/{id}/events" => Game,
        User,
        Private,
        UserFeed,
        "/games/{id}/feed" => GameFeed,
        Inbox,
        Tags,
    ]
    .with_state(AppState { secret: 7 });
}
