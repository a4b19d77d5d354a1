use sse_runtime::prelude::*;

#[sse_view("/x", channel = "a b")]
pub struct Builds;

fn main() {}
