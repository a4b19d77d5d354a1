use sse_runtime::prelude::*;

#[sse_view("/time")]
fn time() -> impl Stream<Item = String> {
    stream! {
        yield String::from("now");
    }
}

fn main() {}
