use sse_runtime::SseEvent;

#[derive(SseEvent)]
#[sse(event = "")]
struct Tick {
    at: u64,
}

fn main() {}
