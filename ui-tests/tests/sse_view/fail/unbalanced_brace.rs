use sse_runtime::prelude::*;

#[sse_view("/rooms/{room")]
async fn room(sse: &mut Sse) {
    sse.add_message("room", "hello");
}

fn main() {}
