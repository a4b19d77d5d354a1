use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &mut Sse, other: &mut Sse) {
    sse.add_message("time", "now");
    other.add_message("time", "later");
}

fn main() {}
