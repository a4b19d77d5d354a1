use sse_runtime::prelude::*;

#[sse_view]
async fn room(sse: &mut Sse) {
    sse.add_message("room", "hello");
}

fn main() {
    let _app: axum::Router = sse_routes!["/rooms/:room" => room];
}
