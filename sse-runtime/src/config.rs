//! The one place a hub is configured: the environment, or a builder.

use std::time::Duration;

use crate::error::Error;
use crate::hub::Hub;

/// The environment variable that names the Redis server, e.g. `redis://127.0.0.1:6379/0`.
/// Unset or empty, the hub is embedded.
pub const REDIS_URL_VAR: &str = "SSE_REDIS_URL";

/// How many events a client may fall behind before it is cut off, by default.
pub const DEFAULT_CLIENT_QUEUE: usize = 1024;

/// How many events of each channel are kept for clients that resume, by default.
pub const DEFAULT_HISTORY: usize = 1000;

/// How many channels the embedded hub keeps a history for, by default.
pub const DEFAULT_HISTORY_CHANNELS: usize = 10_000;

/// How long Redis keeps a channel's history after its last event, by default: a day.
pub const DEFAULT_HISTORY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

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
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct HubBuilder {
    settings: Settings,
}

/// What a builder has been told.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) redis_url: Option<String>,
    pub(crate) client_queue: usize,
    pub(crate) history: usize,
    pub(crate) history_channels: usize,
    pub(crate) history_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redis_url: None,
            client_queue: DEFAULT_CLIENT_QUEUE,
            history: DEFAULT_HISTORY,
            history_channels: DEFAULT_HISTORY_CHANNELS,
            history_ttl: DEFAULT_HISTORY_TTL,
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
        self.settings.redis_url = Some(url.into());
        self
    }

    /// How many events one client may fall behind before it is cut off (default 1024).
    /// A client cut off reconnects and, with ids, resumes where it was.
    pub fn client_queue(mut self, events: usize) -> Self {
        self.settings.client_queue = events;
        self
    }

    /// How many events of each channel are kept for clients that resume (default
    /// 1000): on Redis, a stream per channel trimmed with `MAXLEN ~`, where every
    /// instance sees it; embedded, a ring per channel. 0 keeps none.
    pub fn history(mut self, events: usize) -> Self {
        self.settings.history = events;
        self
    }

    /// How many channels the embedded hub keeps a history for (default 10,000); the
    /// channel sent to least recently is forgotten first. Redis keeps every channel's,
    /// each for [`history_ttl`](Self::history_ttl) after its last event.
    pub fn history_channels(mut self, channels: usize) -> Self {
        self.settings.history_channels = channels;
        self
    }

    /// How long Redis keeps a channel's history after the channel's last event (default
    /// a day, in whole seconds, at least one), so that channels nobody sends to any more
    /// cost nothing after that; a client resuming from such a channel gets a reset. The
    /// embedded hub bounds its histories with [`history_channels`](Self::history_channels)
    /// instead.
    pub fn history_ttl(mut self, ttl: Duration) -> Self {
        self.settings.history_ttl = ttl;
        self
    }

    /// The hub, or [`Error::Config`] if a setting cannot be used. No connection is
    /// opened yet: Redis is first reached when someone listens or sends.
    pub fn build(self) -> Result<Hub, Error> {
        Hub::from_settings(&self.settings)
    }
}
