//! The one place a hub is configured: the environment, or a builder.

use crate::error::Error;
use crate::hub::Hub;

/// The environment variable that names the Redis server, e.g. `redis://127.0.0.1:6379/0`.
/// Unset or empty, the hub is embedded.
pub const REDIS_URL_VAR: &str = "SSE_REDIS_URL";

/// How many events a client may fall behind before it is cut off, by default.
pub const DEFAULT_CLIENT_QUEUE: usize = 1024;

/// The settings of a [`Hub`]: the seed's `REDIS_SSEQUEUE_CONNECTION_SETTINGS`.
///
/// ```
/// use sse_runtime::Hub;
///
/// let hub = Hub::builder()
///     .redis_url("redis://127.0.0.1:6379/0")
///     .client_queue(256)
///     .build()?;
/// # Ok::<(), sse_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct HubBuilder {
    redis_url: Option<String>,
    client_queue: usize,
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self {
            redis_url: None,
            client_queue: DEFAULT_CLIENT_QUEUE,
        }
    }
}

impl HubBuilder {
    /// The settings the environment gives: Redis at `SSE_REDIS_URL` if it is set.
    pub fn from_env() -> Self {
        let builder = Self::default();
        match std::env::var(REDIS_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => builder.redis_url(url.trim()),
            _ => builder,
        }
    }

    /// Uses the Redis server at `url` instead of the embedded broker.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// How many events one client may fall behind before it is cut off (default 1024).
    /// A client cut off reconnects and, with ids, resumes where it was.
    pub fn client_queue(mut self, events: usize) -> Self {
        self.client_queue = events;
        self
    }

    /// The hub, or [`Error::Config`] if a setting cannot be used. No connection is
    /// opened yet: Redis is first reached when someone listens or sends.
    pub fn build(self) -> Result<Hub, Error> {
        Hub::with_fanout(self.client_queue, |fanout| match &self.redis_url {
            Some(url) => Hub::redis_broker(fanout, url),
            None => Ok(Hub::embedded_broker(fanout)),
        })
    }
}
