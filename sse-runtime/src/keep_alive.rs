//! The comment that keeps an idle stream open through proxies and load balancers.

use std::time::Duration;

use bytes::Bytes;

use crate::event::Event;

/// How long a stream may stay silent before a keep-alive comment goes out, and which.
///
/// A comment goes out once a whole interval has passed without a real event, so after
/// one to two intervals of silence, and a busy stream sends none. (The timer is checked
/// once an interval rather than restarted at every event, which would cost a timer
/// update per event per client.) Browsers ignore comments; proxies see traffic and keep
/// the connection.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    pub(crate) interval: Duration,
    pub(crate) frame: Bytes,
}

impl Default for KeepAlive {
    /// A bare `:` comment once 15 seconds pass with no event.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            frame: Bytes::from_static(b":\n\n"),
        }
    }
}

impl KeepAlive {
    /// The default: a bare `:` comment once 15 seconds pass with no event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long the stream may stay silent.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the text of the comment.
    ///
    /// # Panics
    ///
    /// If `text` holds CR or LF.
    pub fn text(mut self, text: &str) -> Self {
        self.frame = Event::new().comment(text).encode();
        self
    }
}
