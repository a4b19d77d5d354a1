use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum ChatEvent {
    Said { text: String },
}

#[derive(SseEvent)]
struct Tick {
    at: u64,
}

#[sse_view("/rooms/{room}", channel = "room:{room}", event = ChatEvent)]
pub struct Room;

async fn publish() -> Result<(), sse_runtime::Error> {
    Room::channel("kitchen").send(&Tick { at: 1 }).await
}

fn main() {}
