use axum::extract::State;
use sse_runtime::prelude::*;

#[derive(Clone)]
pub struct AppState;

async fn channel(State(_): State<AppState>) -> String {
    "foo".into()
}

#[sse_view("/stream", channel = channel)]
pub struct Stream;

fn main() {
    let _app: axum::Router = sse_routes![Stream].with_state(AppState);
}
