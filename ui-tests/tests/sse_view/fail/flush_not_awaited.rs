#![deny(warnings)]

use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
    sse.flush();
}

fn main() {}
