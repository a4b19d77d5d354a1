use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time<T: Default>(sse: &mut Sse) {
    let _ = T::default();
    sse.add_message("time", "now");
}

fn main() {}
