use sse_runtime::prelude::*;

#[sse_view("/rooms/{room}", channel = "room:{roam}")]
pub struct Room;

fn main() {}
