use sse_runtime::prelude::*;

#[derive(SseEvent)]
enum ChatEvent {
    Said { text: String },
}

#[sse_view("/rooms/{room}", channel = "room:{room}", event = ChatEvent, params(room: u32))]
pub struct Room;

async fn publish() -> Result<(), sse_runtime::Error> {
    Room::channel(&"kitchen").send(&ChatEvent::Said { text: "hi".into() }).await
}

fn main() {}
