use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &mut Sse) -> u32 {
    sse.add_message("time", "now");
    7
}

fn main() {}
