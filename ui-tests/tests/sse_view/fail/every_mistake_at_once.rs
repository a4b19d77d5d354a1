use sse_runtime::prelude::*;

#[sse_view("rooms/:room", colour = "blue")]
fn room<T>(&self, sse: Sse) {}

fn main() {}
