use sse_runtime::prelude::*;

#[sse_view]
async fn nowhere(sse: &mut Sse) {
    sse.add_message("where", "nowhere");
}

fn main() {
    let _app: axum::Router = sse_routes![nowhere];
}
