use sse_runtime::prelude::*;

#[sse_view("/stream1", channel = "foo")]
async fn stream1(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {}
