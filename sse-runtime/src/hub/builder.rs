//! The one place a hub is configured: the environment, or a builder.

use std::time::Duration;

use super::Hub;
use crate::error::Error;

/// The environment variable that names the Redis server, e.g. `redis://127.0.0.1:6379/0`.
/// Unset or empty, the hub is embedded.
pub const REDIS_URL_VAR: &str = "SSE_REDIS_URL";

/// The environment variable that gives the database with a `host:port` `SSE_REDIS_URL`,
/// as django-sse's settings give `db` beside `location`.
pub const REDIS_DB_VAR: &str = "SSE_REDIS_DB";

/// The environment variable that names the seed nodes of a Redis Cluster, separated by
/// commas, e.g. `redis://127.0.0.1:7000,redis://127.0.0.1:7001`. Not with `SSE_REDIS_URL`.
pub const REDIS_CLUSTER_VAR: &str = "SSE_REDIS_CLUSTER";

/// The environment variable that names the RabbitMQ broker, e.g.
/// `amqp://guest:guest@127.0.0.1:5672/%2f`. Not with `SSE_REDIS_URL` or
/// `SSE_REDIS_CLUSTER`.
pub const AMQP_URL_VAR: &str = "SSE_AMQP_URL";

/// The environment variable that names the RabbitMQ stream the hub's events go through,
/// [`DEFAULT_AMQP_STREAM`] if unset.
pub const AMQP_STREAM_VAR: &str = "SSE_AMQP_STREAM";

/// The RabbitMQ stream the hub's events go through, by default.
pub const DEFAULT_AMQP_STREAM: &str = "sse.events";

/// How many events a client may fall behind before it is cut off, by default.
pub const DEFAULT_CLIENT_QUEUE: usize = 1024;

/// How many channels one stream may follow, by default.
pub const DEFAULT_STREAM_CHANNELS: usize = 32;

/// How many events of each channel are kept for clients that resume, by default.
pub const DEFAULT_HISTORY: usize = 1000;

/// How many channels the embedded hub keeps a history for, by default.
pub const DEFAULT_HISTORY_CHANNELS: usize = 10_000;

/// How many bytes of history the embedded hub keeps across all its channels, by default:
/// 64 MiB.
pub const DEFAULT_EMBEDDED_HISTORY_BYTES: usize = 64 << 20;

/// How many bytes of history Redis keeps for each channel, by default: 8 MiB.
pub const DEFAULT_REDIS_HISTORY_BYTES: usize = 8 << 20;

/// How many bytes of history RabbitMQ keeps in the hub's stream, all channels together,
/// by default: 256 MiB.
pub const DEFAULT_AMQP_HISTORY_BYTES: usize = 256 << 20;

/// How long Redis keeps a channel's history after its last event, by default: a day.
pub const DEFAULT_HISTORY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest event a hub sends, by default: 1 MiB of text (name, id and data).
pub const DEFAULT_MAX_EVENT: usize = 1 << 20;

/// How long the hub waits for Redis to accept a connection or answer a command, by
/// default.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

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

/// What a builder has been told: the one value every broker is made from.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Where Redis is; `None`: the embedded broker, or RabbitMQ.
    pub(crate) redis: Option<Redis>,
    /// Where RabbitMQ is; `None`: the embedded broker, or Redis.
    pub(crate) amqp: Option<Amqp>,
    /// Why the settings cannot be used, found before the hub is built.
    pub(crate) refused: Option<String>,
    pub(crate) client_queue: usize,
    pub(crate) stream_channels: usize,
    pub(crate) history: usize,
    pub(crate) history_channels: usize,
    /// `None`: the backend's default.
    pub(crate) history_bytes: Option<usize>,
    pub(crate) history_ttl: Duration,
    pub(crate) max_event: usize,
    pub(crate) redis_timeout: Duration,
    pub(crate) replica_acks: usize,
}

/// The Redis a hub uses.
#[derive(Debug, Clone)]
pub(crate) enum Redis {
    /// One server, at a URL.
    Server(String),
    /// A cluster, at these seed nodes.
    Cluster(Vec<String>),
}

/// The RabbitMQ a hub uses: its URL and the stream its events go through.
#[derive(Debug, Clone)]
pub(crate) struct Amqp {
    pub(crate) url: String,
    pub(crate) stream: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redis: None,
            amqp: None,
            refused: None,
            client_queue: DEFAULT_CLIENT_QUEUE,
            stream_channels: DEFAULT_STREAM_CHANNELS,
            history: DEFAULT_HISTORY,
            history_channels: DEFAULT_HISTORY_CHANNELS,
            history_bytes: None,
            history_ttl: DEFAULT_HISTORY_TTL,
            max_event: DEFAULT_MAX_EVENT,
            redis_timeout: DEFAULT_REDIS_TIMEOUT,
            replica_acks: 0,
        }
    }
}

impl HubBuilder {
    /// The settings the environment gives: Redis at `SSE_REDIS_URL` if it is set, with
    /// the database `SSE_REDIS_DB` when the URL is django-sse's `host:port` location; or
    /// the Redis Cluster whose seed nodes `SSE_REDIS_CLUSTER` lists; or RabbitMQ at
    /// `SSE_AMQP_URL`, through the stream `SSE_AMQP_STREAM`. Variables that name two
    /// brokers, or half of one (a database or a stream without a URL), make settings that
    /// [`build`](Self::build) refuses, saying which.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading variables with `read`; a blank value is
    /// unset.
    fn from_vars(read: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| read(name).filter(|value| !value.trim().is_empty());
        let builder = Self::default();
        if let Some(url) = var(AMQP_URL_VAR) {
            let redis = [REDIS_URL_VAR, REDIS_CLUSTER_VAR, REDIS_DB_VAR];
            if let Some(other) = redis.into_iter().find(|name| var(name).is_some()) {
                return builder.refuse(format!(
                    "{AMQP_URL_VAR} names RabbitMQ, and {other} Redis: set one of them"
                ));
            }
            let builder = builder.amqp_url(url.trim());
            return match var(AMQP_STREAM_VAR) {
                Some(stream) => builder.amqp_stream(stream.trim()),
                None => builder,
            };
        }
        if let Some(stream) = var(AMQP_STREAM_VAR) {
            // Without a URL: refused, saying so, rather than quietly embedded.
            return builder.amqp_stream(stream.trim());
        }
        if let Some(nodes) = var(REDIS_CLUSTER_VAR) {
            return match (var(REDIS_URL_VAR), var(REDIS_DB_VAR)) {
                (None, None) => builder.redis_cluster(nodes.split(',')),
                _ => builder.refuse(format!(
                    "{REDIS_CLUSTER_VAR} names a Redis Cluster, and {REDIS_URL_VAR} or {REDIS_DB_VAR} one server: set one of them"
                )),
            };
        }
        match (var(REDIS_URL_VAR), var(REDIS_DB_VAR)) {
            (None, None) => builder,
            (Some(url), None) => builder.redis_url(url.trim()),
            (Some(location), Some(db)) if !location.contains("://") => {
                match db.trim().parse::<u32>() {
                    Ok(db) => builder.redis_location(location.trim(), db),
                    Err(_) => builder.refuse(format!(
                        "{REDIS_DB_VAR}=`{db}` is not a database number: write a number such as 0"
                    )),
                }
            }
            (Some(_), Some(_)) => builder.refuse(format!(
                "{REDIS_DB_VAR} goes with a `host:port` {REDIS_URL_VAR}; a redis:// URL names its database itself (redis://host:port/db): unset {REDIS_DB_VAR}"
            )),
            (None, Some(_)) => builder.refuse(format!(
                "{REDIS_DB_VAR} is set but {REDIS_URL_VAR} is not: set {REDIS_URL_VAR} to the server (host:port), or unset {REDIS_DB_VAR}"
            )),
        }
    }

    /// Settings that cannot be used: [`build`](HubBuilder::build) says why.
    fn refuse(mut self, reason: String) -> Self {
        self.settings.refused = Some(reason);
        self
    }

    /// Uses the Redis server at django-sse's `location` (`host:port`) and database `db`,
    /// the seed's `REDIS_SSEQUEUE_CONNECTION_SETTINGS = {'location': 'localhost:6379',
    /// 'db': 0}`: the same as `redis_url("redis://localhost:6379/0")`.
    pub fn redis_location(self, location: &str, db: u32) -> Self {
        self.redis_url(format!("redis://{location}/{db}"))
    }

    /// Uses the Redis server at `url` instead of the embedded broker:
    /// `redis://host:port/db`, or `host:port` as django-sse's `location` (database 0).
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.settings.redis = Some(Redis::Server(with_scheme(url.into())));
        self
    }

    /// Uses the Redis Cluster (Redis 7 or later) that these seed nodes belong to
    /// (`redis://host:port`, or `host:port`): one node that answers is enough to find the
    /// rest. Each channel travels on sharded pub/sub (`SSUBSCRIBE`, `SPUBLISH`) through
    /// the shard that owns its slot, and its history lives on that shard, so channels
    /// spread over the shards. Other programs publish with `SPUBLISH`.
    pub fn redis_cluster<S: AsRef<str>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|node| node.as_ref().trim().to_owned())
            .filter(|node| !node.is_empty())
            .map(with_scheme)
            .collect();
        self.settings.redis = Some(Redis::Cluster(nodes));
        self
    }

    /// How many events one client may fall behind before it is cut off (default 1024).
    /// A client cut off reconnects and, with ids, resumes where it was. The events of a
    /// channel are queued once for all its local clients, and only until every one of
    /// them has read them: a channel with no traffic queues nothing.
    pub fn client_queue(mut self, events: usize) -> Self {
        self.settings.client_queue = events;
        self
    }

    /// How many channels one stream may follow (default 32, at least 1): a request for
    /// more is answered `400 Bad Request` with the reason. A stream's cursor, its events'
    /// id, grows with its channels, about 30 bytes each.
    pub fn stream_channels(mut self, channels: usize) -> Self {
        self.settings.stream_channels = channels.max(1);
        self
    }

    /// How many events of each channel are kept for clients that resume (default
    /// 1000): on Redis, a stream per channel trimmed with `MAXLEN ~`, where every
    /// instance sees it; embedded, a list per channel. 0 keeps none.
    pub fn history(mut self, events: usize) -> Self {
        self.settings.history = events;
        self
    }

    /// How many bytes of history are kept, on top of [`history`](Self::history)'s
    /// count: embedded, across all channels (default 64 MiB; the channel sent to least
    /// recently loses its oldest events first); on Redis, for each channel (default
    /// 8 MiB; its oldest events are deleted); on RabbitMQ, the whole stream (default
    /// 256 MiB, dropped a segment at a time, oldest first). The newest event of a
    /// channel is always kept, but on RabbitMQ.
    pub fn history_bytes(mut self, bytes: usize) -> Self {
        self.settings.history_bytes = Some(bytes);
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
    /// and [`history_bytes`](Self::history_bytes) instead.
    pub fn history_ttl(mut self, ttl: Duration) -> Self {
        self.settings.history_ttl = ttl;
        self
    }

    /// The largest event the hub sends, counted as the bytes of its name, id and data
    /// (default 1 MiB). A larger send fails with [`Error::TooLarge`]; a larger payload
    /// another program publishes on Redis is logged and skipped.
    pub fn max_event(mut self, bytes: usize) -> Self {
        self.settings.max_event = bytes;
        self
    }

    /// How long the hub waits for Redis to accept a connection, and for the answer to a
    /// command (default 1 s). A send that was written and not answered in time fails
    /// with [`Error::OutcomeUnknown`].
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.settings.redis_timeout = timeout;
        self
    }

    /// Uses RabbitMQ (3.9 or later, for streams) at `url`
    /// (`amqp://user:password@host:port/vhost`) instead of the embedded broker: every
    /// event goes through one stream queue ([`amqp_stream`](Self::amqp_stream)), whose
    /// positions are the events' ids. Needs the crate's `amqp` feature.
    pub fn amqp_url(mut self, url: impl Into<String>) -> Self {
        let stream = self.settings.amqp.take().map(|amqp| amqp.stream);
        self.settings.amqp = Some(Amqp {
            url: url.into(),
            stream: stream.unwrap_or_else(|| DEFAULT_AMQP_STREAM.to_owned()),
        });
        self
    }

    /// The RabbitMQ stream the hub's events go through (default `sse.events`): every
    /// process that shares it shares the events. With [`amqp_url`](Self::amqp_url).
    pub fn amqp_stream(mut self, stream: impl Into<String>) -> Self {
        let stream = stream.into();
        match &mut self.settings.amqp {
            Some(amqp) => amqp.stream = stream,
            None => {
                return self.refuse(format!(
                    "an AMQP stream (`{stream}`) without an AMQP URL: set {AMQP_URL_VAR} too"
                ))
            }
        }
        self
    }

    /// How many replicas must have an event before its send succeeds (default 0). Redis
    /// replicates asynchronously: an event its master acknowledged and then lost, dying
    /// before a replica had it, is gone after the failover. With `n` above 0 each send
    /// waits (`WAIT n`, up to half of [`redis_timeout`](Self::redis_timeout), so that
    /// Redis's answer comes before the command's own timeout) until `n` replicas have
    /// it, and fails with [`Error::OutcomeUnknown`] if fewer did in time. For a Redis
    /// Cluster whose masters each have a replica, 1 makes every successful send survive
    /// one master's failover. A replica's acknowledgement can take most of a second:
    /// give it a `redis_timeout` of 3 s or more.
    pub fn replica_acks(mut self, replicas: usize) -> Self {
        self.settings.replica_acks = replicas;
        self
    }

    /// The hub, or [`Error::Config`] if a setting cannot be used. No connection is
    /// opened yet: Redis is first reached when someone listens or sends.
    pub fn build(self) -> Result<Hub, Error> {
        Hub::from_settings(&self.settings)
    }
}

/// `host:port` as a URL; a URL as it is.
fn with_scheme(url: String) -> String {
    match url.contains("://") {
        true => url,
        false => format!("redis://{url}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a hub made from these variables goes, or why it is refused.
    fn from(vars: &[(&str, &str)]) -> String {
        let settings = HubBuilder::from_vars(|name| {
            let found = vars.iter().find(|(key, _)| *key == name);
            found.map(|(_, value)| (*value).to_owned())
        })
        .settings;
        match (settings.refused, settings.redis, settings.amqp) {
            (Some(reason), _, _) => format!("refused: {reason}"),
            (None, Some(Redis::Server(url)), None) => format!("redis {url}"),
            (None, Some(Redis::Cluster(nodes)), None) => format!("cluster {}", nodes.join(" ")),
            (None, None, Some(amqp)) => format!("amqp {} {}", amqp.url, amqp.stream),
            (None, None, None) => "embedded".to_owned(),
            both => panic!("two brokers: {both:?}"),
        }
    }

    #[test]
    fn the_environment_names_one_broker() {
        assert_eq!(from(&[]), "embedded");
        assert_eq!(
            from(&[("SSE_REDIS_URL", "  ")]),
            "embedded",
            "blank is unset"
        );
        let url = [("SSE_REDIS_URL", " redis://r:6379/2 ")];
        assert_eq!(from(&url), "redis redis://r:6379/2");
        let location = [("SSE_REDIS_URL", "r:6379"), ("SSE_REDIS_DB", " 3")];
        assert_eq!(from(&location), "redis redis://r:6379/3");
        let cluster = [("SSE_REDIS_CLUSTER", "a:1, redis://b:2,")];
        assert_eq!(from(&cluster), "cluster redis://a:1 redis://b:2");
        let amqp = [("SSE_AMQP_URL", "amqp://q ")];
        assert_eq!(from(&amqp), "amqp amqp://q sse.events");
        let stream = [("SSE_AMQP_URL", "amqp://q"), ("SSE_AMQP_STREAM", "s")];
        assert_eq!(from(&stream), "amqp amqp://q s");
    }

    #[test]
    fn an_environment_that_names_two_brokers_or_half_of_one_is_refused_saying_why() {
        for redis in ["SSE_REDIS_URL", "SSE_REDIS_CLUSTER", "SSE_REDIS_DB"] {
            assert_eq!(
                from(&[("SSE_AMQP_URL", "amqp://q"), (redis, "r:1")]),
                format!("refused: SSE_AMQP_URL names RabbitMQ, and {redis} Redis: set one of them")
            );
        }
        for server in ["SSE_REDIS_URL", "SSE_REDIS_DB"] {
            assert_eq!(
                from(&[("SSE_REDIS_CLUSTER", "a:1"), (server, "0")]),
                "refused: SSE_REDIS_CLUSTER names a Redis Cluster, and SSE_REDIS_URL or \
                 SSE_REDIS_DB one server: set one of them"
            );
        }
        assert_eq!(
            from(&[("SSE_REDIS_URL", "r:1"), ("SSE_REDIS_DB", "x")]),
            "refused: SSE_REDIS_DB=`x` is not a database number: write a number such as 0"
        );
        assert_eq!(
            from(&[("SSE_REDIS_URL", "redis://r:1/0"), ("SSE_REDIS_DB", "1")]),
            "refused: SSE_REDIS_DB goes with a `host:port` SSE_REDIS_URL; a redis:// URL \
             names its database itself (redis://host:port/db): unset SSE_REDIS_DB"
        );
        assert_eq!(
            from(&[("SSE_REDIS_DB", "1")]),
            "refused: SSE_REDIS_DB is set but SSE_REDIS_URL is not: set SSE_REDIS_URL to the \
             server (host:port), or unset SSE_REDIS_DB"
        );
        assert_eq!(
            from(&[("SSE_AMQP_STREAM", "s")]),
            "refused: an AMQP stream (`s`) without an AMQP URL: set SSE_AMQP_URL too"
        );
    }
}
