use sse_runtime::prelude::*;

#[sse_view("/rooms/{room}", channel = "room:{room}", params(rooom: u32))]
pub struct Room;

fn main() {}
