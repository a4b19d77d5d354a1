use sse_runtime::SseEvent;

#[derive(SseEvent)]
struct Tick {
    #[sse(id)]
    seq: u64,
    #[sse(id)]
    at: u64,
}

fn main() {}
