use sse_runtime::prelude::*;

#[sse_view("/stream1")]
pub struct Stream1;

fn main() {}
