use sse_runtime::prelude::*;

#[derive(SseEvent)]
struct Tick {
    at: u64,
}

#[sse_view("/ticks", event = Tick)]
async fn ticks(sse: &mut Sse) {
    sse.add_message("tick", "now");
}

fn main() {}
