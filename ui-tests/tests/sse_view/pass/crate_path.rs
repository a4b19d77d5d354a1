//! A crate that re-exports sse-runtime under another name says where it is with
//! `crate = path`; the views and the router then compile through that path alone.
#![deny(warnings, missing_docs)]

/// The application's own name for sse-runtime.
pub mod platform {
    pub use sse_runtime as sse;
}

use platform::sse::{sse_routes, sse_view, stream, Event, Sse, Stream};

/// A generator view.
#[sse_view("/time", crate = platform::sse)]
async fn time(sse: &mut Sse) {
    sse.add_message("time", "now");
}

/// A stream view, its `stream!` reached through the same path.
#[sse_view("/ticks", crate = platform::sse)]
fn ticks() -> impl Stream<Item = Event> {
    stream! {
        yield Event::new().data("tick");
    }
}

/// A channel view.
#[sse_view("/news", channel = "news", crate = crate::platform::sse)]
pub struct News;

fn main() {
    let _app: axum::Router = sse_routes![time, ticks, News];
}
