use sse_runtime::prelude::*;

#[sse_view("/here")]
async fn here(sse: &mut Sse) {
    sse.add_message("where", "here");
}

fn main() {
    let _app: axum::Router = sse_routes!["/there" => here];
}
