//! The seed's first example: `GET /time` sends an event named `time` whose data is the
//! current Unix time, every second.
//!
//! ```text
//! cargo run -p examples --example time
//! curl -N http://127.0.0.1:3000/time
//! ```

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sse_runtime::prelude::*;

#[path = "common/mod.rs"]
mod common;

/// The current timestamp every second, as django-sse's `MySseStreamView`.
#[sse_view("/time")]
async fn time(sse: &mut Sse) {
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        sse.add_message("time", &now.as_secs_f64().to_string());
        sse.flush().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let app: axum::Router = sse_routes![time];
    common::serve(app, "streaming the time at http://{addr}/time").await
}
