use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &Sse) {
    let _ = sse;
}

fn main() {}
