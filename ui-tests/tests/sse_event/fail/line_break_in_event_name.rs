use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum ChatEvent {
    #[sse(event = "said\nevent: forged")]
    Said { text: String },
}

fn main() {}
