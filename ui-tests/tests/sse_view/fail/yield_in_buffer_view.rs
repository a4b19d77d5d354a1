use sse_runtime::prelude::*;

#[sse_view("/time")]
async fn time(sse: &mut Sse) {
    loop {
        yield Event::new().data("now");
    }
}

fn main() {}
