//! Server-Sent Events views for axum.
//!
//! WIP
#![forbid(unsafe_code)]

mod buffer;
mod error;
mod event;
mod generator;
mod keep_alive;
mod response;

pub use buffer::{Flush, Sse};
pub use error::Error;
pub use event::{Event, Field};
pub use keep_alive::KeepAlive;
pub use response::SseResponse;

/// What generated code refers to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::generator::{Generator, ViewOutcome};
}
