use sse_runtime::prelude::*;

#[sse_view("/count/{id}")]
async fn count(id: u32, sse: &mut Sse) {
    sse.add_message("count", &id.to_string());
}

fn main() {}
