use sse_runtime::prelude::*;

#[sse_view("/time", colour = "blue")]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {}
