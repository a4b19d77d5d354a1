use sse_runtime::prelude::*;

#[sse_view(channel = "game:{id}")]
pub struct Game;

fn main() {
    let _app: axum::Router = sse_routes!["/games/{game}" => Game];
}
