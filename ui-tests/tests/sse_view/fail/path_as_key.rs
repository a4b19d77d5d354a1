use sse_runtime::prelude::*;

#[sse_view(path = "/time")]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {}
