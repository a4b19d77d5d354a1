use sse_runtime::prelude::*;

async fn plain() -> &'static str {
    "not a view"
}

fn main() {
    let _app: axum::Router = sse_routes![plain];
}
