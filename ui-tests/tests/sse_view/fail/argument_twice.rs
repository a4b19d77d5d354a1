use sse_runtime::prelude::*;

#[sse_view("/time", retry = std::time::Duration::from_secs(1), retry = std::time::Duration::from_secs(2))]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {}
