//! Every form of generator view compiles in a crate that denies warnings and missing docs.
#![deny(warnings, missing_docs)]

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use sse_runtime::prelude::*;

/// The application's state.
#[derive(Clone)]
pub struct AppState {
    greeting: &'static str,
}

/// The seed's example.
#[sse_view("/time")]
pub async fn time(sse: &mut Sse) {
    loop {
        sse.add_message("time", "now");
        sse.flush().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Extractors in any order around the buffer, and a path parameter.
#[sse_view("/count/{from}")]
pub async fn count(
    Query(query): Query<HashMap<String, String>>,
    sse: &mut Sse,
    Path(from): Path<u64>,
    headers: HeaderMap,
    last: LastEventId,
) {
    let _ = (query, headers, last);
    sse.send(&Event::new().id(from.to_string()).data("n")).await;
}

/// State, and a body that may fail with `?`.
#[sse_view("/greet", keep_alive = Duration::from_secs(5), retry = Duration::from_millis(500))]
pub async fn greet(State(state): State<AppState>, sse: &mut Sse) -> Result<(), std::io::Error> {
    sse.try_add_message("greeting", state.greeting)
        .map_err(std::io::Error::other)?;
    if state.greeting.is_empty() {
        return Err(std::io::Error::other("nothing to say"));
    }
    Ok(())
}

/// A view that takes no buffer and ends at once.
#[sse_view("/empty")]
pub async fn empty() {}

/// A view whose path is given where it is mounted, with the buffer under another name.
#[sse_view(state = AppState)]
pub async fn unmounted(buffer: &mut sse_runtime::Sse) {
    buffer.add_message("where", "elsewhere");
}

fn main() {
    let _app: axum::Router = sse_routes![time, count, greet, empty, "/elsewhere" => unmounted]
        .with_state(AppState { greeting: "hi" });
}
