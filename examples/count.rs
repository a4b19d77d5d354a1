//! A view with `Path`, `Query` and `Last-Event-ID`: it counts up from a number, gives each
//! event its number as id, and a client that reconnects goes on from the last number it
//! received instead of starting over. With `to`, the count ends there, and says it is
//! finished: a browser then stops, instead of reconnecting and counting again.
//!
//! ```text
//! cargo run -p examples --example count
//! curl -N 'http://127.0.0.1:3000/count/10?step=5'
//! curl -N -H 'Last-Event-ID: 40' 'http://127.0.0.1:3000/count/10?step=5'   # resumes at 45
//! curl -N 'http://127.0.0.1:3000/count/1?to=3'                              # 1, 2, 3, finished
//! curl -i -H 'Last-Event-ID: sse-finished' 'http://127.0.0.1:3000/count/1?to=3'   # 204
//! ```

use std::process::ExitCode;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;
use sse_runtime::prelude::*;

#[path = "common/mod.rs"]
mod common;

/// A page that counts to 3 in the browser, and stops there.
const PAGE: &str = r#"<!doctype html>
<title>count</title>
<ol id="count"></ol>
<script>
  const source = new EventSource("/count/1?to=3");
  source.onmessage = (event) => {
    const item = document.createElement("li");
    item.textContent = event.data;
    document.getElementById("count").append(item);
  };
</script>
"#;

/// How to count, from the query string.
#[derive(Deserialize)]
struct Counting {
    /// How much each event adds (default 1).
    step: Option<u64>,
    /// Milliseconds between events (default 1000).
    every_ms: Option<u64>,
    /// The last number, if the count ends.
    to: Option<u64>,
}

/// Counts from `from`, or from just after the client's last id when it reconnects.
#[sse_view("/count/{from}", retry = Duration::from_secs(1))]
async fn count(
    Path(from): Path<u64>,
    Query(counting): Query<Counting>,
    last: LastEventId,
    sse: &mut Sse,
) {
    let step = counting.step.unwrap_or(1);
    let every = Duration::from_millis(counting.every_ms.unwrap_or(1000));
    // Any id that is no number of ours starts over; the last number ends the count.
    let mut next = match last.parse::<u64>() {
        Some(last) => last.checked_add(step),
        None => Some(from),
    };
    let to = counting.to.unwrap_or(u64::MAX);
    while let Some(n) = next.filter(|n| *n <= to) {
        sse.send(&Event::new().id(n.to_string()).data(n.to_string()))
            .await;
        next = n.checked_add(step);
        tokio::time::sleep(every).await;
    }
    if counting.to.is_some() {
        sse.finish().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![count].route("/", get(|| async { Html(PAGE) }));
    common::serve(app, "counting at http://{addr}/count/10?step=5").await
}
