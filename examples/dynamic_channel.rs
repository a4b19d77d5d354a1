//! The seed's `MyRedisQueueView`: the channel comes from the URL, `GET /sse/{channel}/`.
//! `GET /send/{channel}/?data=...` sends to it.
//!
//! ```text
//! cargo run -p examples --example dynamic_channel
//! curl -N http://127.0.0.1:3000/sse/news/
//! curl 'http://127.0.0.1:3000/send/news/?data=hello'
//! ```

use std::collections::HashMap;
use std::process::ExitCode;

use axum::extract::{Path, Query};
use axum::routing::get;
use sse_runtime::prelude::*;

#[path = "common/mod.rs"]
mod common;

/// django-sse: `get_redis_channel()` returning `self.kwargs['channel']`. The name is
/// checked at the door: a channel with pattern characters, control characters or more
/// than 256 bytes is answered with 400.
#[sse_view("/sse/{channel}/", channel = "{channel}")]
pub struct MyRedisQueueView;

async fn send(
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<&'static str, sse_runtime::Error> {
    let data = query.get("data").map_or("ping", String::as_str);
    send_event("message", data, &channel).await?;
    Ok("sent\n")
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![MyRedisQueueView].route("/send/{channel}/", get(send));
    common::serve(
        app,
        "listen at http://{addr}/sse/<channel>/ ; send with http://{addr}/send/<channel>/?data=hi",
    )
    .await
}
