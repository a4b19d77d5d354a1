//! Views that return a stream: `fn` or `async fn`, with extractors, items that are events
//! or results, mounted beside a generator view.
#![deny(warnings)]

use axum::extract::Path;
use sse_runtime::prelude::*;

#[sse_view("/count/{to}")]
fn count(Path(to): Path<u32>, last: LastEventId) -> impl Stream<Item = Event> {
    let from = last.parse::<u32>().map_or(0, |last| last + 1);
    stream! {
        for n in from..to {
            yield Event::new().id(n.to_string()).data(n.to_string());
        }
    }
}

#[sse_view("/lines")]
async fn lines() -> impl Stream<Item = Result<Event, std::io::Error>> + Send {
    tokio::task::yield_now().await;
    let text = std::fs::read_to_string("/etc/hostname");
    stream! {
        match text {
            Ok(text) => yield Ok(Event::new().data(text)),
            Err(error) => yield Err(error),
        }
    }
}

#[sse_view("/time")]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

fn main() {
    let _app: axum::Router = sse_routes![count, lines, time];
}
