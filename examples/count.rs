//! A view with `Path`, `Query` and `Last-Event-ID`: it counts up from a number, gives each
//! event its number as id, and a client that reconnects goes on from the last number it
//! received instead of starting over.
//!
//! ```text
//! cargo run -p examples --example count
//! curl -N 'http://127.0.0.1:3000/count/10?step=5'
//! curl -N -H 'Last-Event-ID: 40' 'http://127.0.0.1:3000/count/10?step=5'   # resumes at 45
//! ```

use std::time::Duration;

use axum::extract::{Path, Query};
use serde::Deserialize;
use sse_runtime::prelude::*;

/// How to count, from the query string.
#[derive(Deserialize)]
struct Counting {
    /// How much each event adds (default 1).
    step: Option<u64>,
    /// Milliseconds between events (default 1000).
    every_ms: Option<u64>,
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
    while let Some(n) = next {
        sse.send(&Event::new().id(n.to_string()).data(n.to_string()))
            .await;
        next = n.checked_add(step);
        tokio::time::sleep(every).await;
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app: axum::Router = sse_routes![count];
    let addr = std::env::var("SSE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "counting at http://{}/count/10?step=5",
        listener.local_addr()?
    );
    sse_runtime::serve(listener, app)
        .with_graceful_shutdown(sse_runtime::shutdown_signal())
        .await
}
