use sse_runtime::SseEvent;

struct Secret;

#[derive(SseEvent)]
enum ChatEvent {
    Said { text: String, secret: Secret },
}

fn main() {}
