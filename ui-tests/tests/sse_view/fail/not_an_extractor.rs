use sse_runtime::prelude::*;

struct Clock;

#[sse_view("/time")]
async fn time(clock: Clock, sse: &mut Sse) {
    let _ = clock;
    sse.add_message("time", "now");
}

fn main() {}
