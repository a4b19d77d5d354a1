use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum ChatEvent {
    Said { text: String },
}

async fn channel() -> String {
    "kitchen".into()
}

#[sse_view("/rooms", channel = channel, event = ChatEvent)]
pub struct Room;

fn main() {}
