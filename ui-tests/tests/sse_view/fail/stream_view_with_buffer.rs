use sse_runtime::prelude::*;

#[sse_view("/time")]
fn time(sse: &mut Sse) -> impl Stream<Item = Event> {
    stream! {
        yield Event::new().data("now");
    }
}

fn main() {}
