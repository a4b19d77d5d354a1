use sse_runtime::prelude::*;

#[sse_view("/time")]
enum Time {
    Now,
}

fn main() {}
