use sse_runtime::prelude::*;

#[sse_view("/ticks")]
async fn ticks(sse: &mut Sse) -> Result<(), sse_runtime::Error> {
    sse.send_typed(&"now").await
}

fn main() {}
