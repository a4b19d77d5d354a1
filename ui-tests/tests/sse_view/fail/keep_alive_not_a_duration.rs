use sse_runtime::prelude::*;

#[sse_view("/time", keep_alive = 15)]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {}
