//! The seed's second example: `GET /stream1/` streams channel `foo`, and `GET /someview`
//! sends an event to it, as any other view of the application may.
//!
//! ```text
//! cargo run -p examples --example redis_queue          # embedded hub
//! SSE_REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p examples --example redis_queue
//! curl -N http://127.0.0.1:3000/stream1/     # in one terminal
//! curl http://127.0.0.1:3000/someview        # in another: the first shows myevent
//! ```

use axum::routing::get;
use sse_runtime::prelude::*;
use std::process::ExitCode;

#[path = "common/mod.rs"]
mod common;

/// django-sse: `url(r'^stream1/$', RedisQueueView.as_view(redis_channel="foo"))`.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

/// django-sse: `send_event("myevent", "mydata", channel="foo")` from a normal view.
async fn someview() -> Result<&'static str, sse_runtime::Error> {
    send_event("myevent", "mydata", "foo").await?;
    Ok("dummy response")
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![Stream1].route("/someview", get(someview));
    common::serve(
        app,
        "streaming channel foo at http://{addr}/stream1/ ; send with http://{addr}/someview",
    )
    .await
}
