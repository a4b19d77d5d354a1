use sse_runtime::prelude::*;

#[sse_view("/stream1", chanel = "foo")]
pub struct Stream1;

fn main() {}
