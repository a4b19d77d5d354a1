use sse_runtime::prelude::*;

#[sse_view("/empty", channels = [])]
pub struct Empty;

#[sse_view("/rooms/{room}", channels = ["news", "room:{rom}"])]
pub struct Misspelled;

#[sse_view("/typed/{room}", channels = ["room:{room}"], event = Event, params(room: u32))]
pub struct Typed;

#[sse_view("/bad", channels = ["news", "a b"])]
pub struct BadName;

#[sse_view("/twice", channel = "a", channels = ["b"])]
pub struct Twice;

#[sse_view("/time", presence = true)]
async fn time(sse: &mut Sse) {
    sse.flush().await;
}

fn main() {}
