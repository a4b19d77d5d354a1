//! A test kit for applications built on sse-runtime: serve a `Router` on a loopback port
//! with an embedded hub of its own, open streams with a real HTTP client, and read the
//! events as an `EventSource` would.
//!
//! ```
//! use axum::Router;
//! use sse_runtime::prelude::*;
//! use sse_test::TestServer;
//!
//! #[sse_view("/news", channel = "news")]
//! pub struct News;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = TestServer::start(sse_routes![News]).await;
//! let mut news = server.get("/news").await;
//! News::channel_on(server.hub()).send(&Event::new().event("headline").data("hi")).await.unwrap();
//! let event = news.next().await;
//! assert_eq!((event.event.as_str(), event.data.as_str()), ("headline", "hi"));
//!
//! // A reconnection sends the last id it saw, as a browser does: nothing was missed.
//! let mut news = news.reconnect().await;
//! news.assert_quiet(std::time::Duration::from_millis(50)).await;
//! # }
//! ```
//!
//! Every read has a deadline ([`EventStream::next`] waits [`PATIENCE`]); a read that
//! misses it, an event the parser refuses, or a stream that ends early fails the test
//! with a message that says which.

mod server;
mod stream;

pub use server::TestServer;
pub use stream::{parse_events, EventStream, Received};

/// How long a read waits for something that should come at once.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);
