use sse_runtime::SseEvent;

#[derive(SseEvent)]
enum ChatEvent {
    #[sse(name = "said")]
    Said { text: String },
}

fn main() {}
