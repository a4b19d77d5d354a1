use sse_runtime::prelude::*;

#[sse_view("/news", channel = "news.*")]
pub struct News;

fn main() {}
