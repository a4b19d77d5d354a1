use axum::response::IntoResponse;
use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &mut Sse) -> impl IntoResponse {
    sse.add_message("time", "now");
    "done"
}

fn main() {}
