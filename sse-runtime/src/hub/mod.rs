//! The hub: one per process, between the brokers that carry events and the clients that
//! stream them.
//!
//! Each channel with local listeners has one queue of encoded bytes: an event is encoded
//! once per process and every client of the channel gets the same bytes. The broker is
//! told when a channel gets its first local listener and when its last one leaves, so
//! the Redis broker subscribes only to what someone here is listening to.

#[cfg(feature = "amqp")]
mod amqp;
mod builder;
mod cursor;
mod dormant;
mod embedded;
mod encoded;
mod fanout;
mod feed;
mod follow;
mod history;
mod id;
pub(crate) mod payload;
pub(crate) mod presence;
mod queue;
mod redis;
mod sent_keys;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;
use fanout::Fanout;
use history::Page;
use id::EventId;
use presence::Counts;

pub use builder::{
    HubBuilder, AMQP_STREAM_VAR, AMQP_URL_VAR, DEFAULT_AMQP_HISTORY_BYTES, DEFAULT_AMQP_STREAM,
    DEFAULT_CLIENT_QUEUE, DEFAULT_EMBEDDED_HISTORY_BYTES, DEFAULT_HISTORY,
    DEFAULT_HISTORY_CHANNELS, DEFAULT_HISTORY_TTL, DEFAULT_MAX_EVENT, DEFAULT_REDIS_HISTORY_BYTES,
    DEFAULT_REDIS_TIMEOUT, DEFAULT_STREAM_CHANNELS, REDIS_CLUSTER_VAR, REDIS_DB_VAR, REDIS_URL_VAR,
};
pub(crate) use builder::{Redis, Settings};
pub(crate) use cursor::ENTRY_MAX as CURSOR_ENTRY_MAX;
pub(crate) use encoded::Encoded;
pub(crate) use feed::Feed;
pub(crate) use follow::{Follow, Gone, Start};
pub(crate) use presence::Membership;
pub use presence::PRESENCE_EVENT;

/// A future a broker returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What carries events between processes. Another backend plugs in by implementing this
/// and delivering what it receives into the [`Fanout`].
pub(crate) trait Broker: Send + Sync + 'static {
    /// Sends `event` to the listeners of `channel` in every process, at most once for
    /// each `key` given.
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Up to `limit` events of `channel` after `from`, from the history the broker keeps.
    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        from: EventId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>>;

    /// Up to `limit` of the first events of `channel`, if its history still holds every
    /// event the channel has had (`Page::Unknown` if it dropped some).
    fn history_from_beginning<'a>(
        &'a self,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>>;

    /// The id of the newest event the history of each of `channels` holds, if it holds
    /// any, in the order given: a feed asks for all its channels at once (on Redis, one
    /// round trip and one request in flight, however many channels).
    fn last_ids<'a>(
        &'a self,
        channels: &'a [&'a ChannelName],
    ) -> BoxFuture<'a, Result<Vec<Option<EventId>>, Error>>;

    /// Records what changed in the presence of this process (named `process`) and tells
    /// the clients of each channel whose members came or went.
    fn report<'a>(
        &'a self,
        process: &'a str,
        changes: &'a [presence::ChannelReport],
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// How many streams listen to `channel` in every process sharing the broker; `None`
    /// if the broker knows this process only.
    fn presence<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Option<usize>, Error>>;

    /// The first local listener of `channel` arrived: start delivering it, and say
    /// whether delivery starts at once (else the broker marks the channel ready through
    /// the fanout later). Called with the fanout's lock held, so calls come in the order
    /// listeners come and go; it must not call back into the fanout.
    fn listen(&self, channel: &ChannelName) -> bool;

    /// The last local listener of `channel` left: stop delivering it.
    fn unlisten(&self, channel: &ChannelName);

    /// Whether the broker can work at all.
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// The hub of a process: send events to channels, subscribe to them.
///
/// Cloning is cheap and every clone is the same hub. [`Hub::global`] is the one
/// [`send_event`] and channel views use unless a request carries another as an
/// `axum::Extension<Hub>`.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// What every clone of a hub shares: a clone is one pointer, which each of a feed's
/// channels holds.
struct Inner {
    fanout: Arc<Fanout>,
    broker: Arc<dyn Broker>,
    max_event: usize,
    stream_channels: usize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("channels", &self.inner.fanout.channel_count())
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Hub> = OnceLock::new();

impl Hub {
    /// An in-process hub: events reach the listeners of this process only.
    pub fn embedded() -> Hub {
        Hub::from_settings(&Settings::default())
            .unwrap_or_else(|_| unreachable!("an embedded hub has no configuration to refuse"))
    }

    /// A hub on the Redis server at `url` (`redis://host:port/db`).
    pub fn redis(url: &str) -> Result<Hub, Error> {
        Hub::builder().redis_url(url).build()
    }

    /// A hub on the Redis Cluster these seed nodes (`redis://host:port`) belong to.
    pub fn redis_cluster<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>) -> Result<Hub, Error> {
        Hub::builder().redis_cluster(nodes).build()
    }

    /// A builder for every setting.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    pub(crate) fn from_settings(settings: &Settings) -> Result<Hub, Error> {
        if let Some(reason) = &settings.refused {
            return Err(Error::Config(reason.clone()));
        }
        let fanout = Arc::new(Fanout::new(settings.client_queue));
        let broker: Arc<dyn Broker> = match (&settings.redis, &settings.amqp) {
            (Some(redis), _) => Arc::new(redis::RedisBroker::new(&fanout, redis, settings)?),
            (None, Some(amqp)) => amqp_broker(&fanout, amqp, settings)?,
            (None, None) => Arc::new(embedded::Embedded::new(&fanout, settings)),
        };
        Ok(Hub::new(
            fanout,
            broker,
            settings.max_event,
            settings.stream_channels,
        ))
    }

    fn new(
        fanout: Arc<Fanout>,
        broker: Arc<dyn Broker>,
        max_event: usize,
        stream_channels: usize,
    ) -> Hub {
        let inner = Inner {
            fanout,
            broker,
            max_event,
            stream_channels,
        };
        Hub {
            inner: Arc::new(inner),
        }
    }

    /// The process's hub: the one installed with [`Hub::set_global`], or else one made
    /// from the environment on first use (Redis when `SSE_REDIS_URL` is set, embedded
    /// otherwise). A bad `SSE_REDIS_URL` is logged, and every send and subscription
    /// then fails with [`Error::Config`] rather than quietly staying in-process.
    pub fn global() -> &'static Hub {
        GLOBAL.get_or_init(|| {
            HubBuilder::from_env().build().unwrap_or_else(|error| {
                tracing::error!(%error, "the SSE hub cannot be built from the environment");
                let reason = match error {
                    Error::Config(reason) => reason,
                    other => other.to_string(),
                };
                let broker = Arc::new(Misconfigured(reason));
                Hub::new(
                    Arc::new(Fanout::new(1)),
                    broker,
                    usize::MAX,
                    builder::DEFAULT_STREAM_CHANNELS,
                )
            })
        })
    }

    /// Makes `self` the process's hub. Fails, handing it back, if [`Hub::global`] was
    /// already used or set.
    pub fn set_global(self) -> Result<(), Hub> {
        GLOBAL.set(self)
    }

    /// Sends `event` to every listener of `channel`, in every process that shares the
    /// broker. The hub gives the event its id (an id set on `event` is replaced).
    ///
    /// `Ok` means the broker has the event. [`Error::Redis`] and every other error but
    /// one mean it was not sent; [`Error::OutcomeUnknown`] means Redis took the command
    /// and did not answer in time, so it may have been: to retry without a duplicate,
    /// send with [`Hub::send_idempotent`].
    pub async fn send(&self, channel: &str, event: &Event) -> Result<(), Error> {
        self.publish(channel, event, None).await
    }

    /// Sends `event` to `channel` at most once for `key`: a send with a key already
    /// sent to this channel (within the history's time to live on Redis, or while the
    /// embedded hub remembers it) succeeds without sending again. Retrying a send that
    /// failed with [`Error::OutcomeUnknown`] with the same key delivers it once.
    pub async fn send_idempotent(
        &self,
        channel: &str,
        event: &Event,
        key: &str,
    ) -> Result<(), Error> {
        self.publish(channel, event, Some(key)).await
    }

    async fn publish(&self, channel: &str, event: &Event, key: Option<&str>) -> Result<(), Error> {
        let sent = async {
            let channel = ChannelName::new(channel)?;
            let size = event.text_len();
            if size > self.inner.max_event {
                return Err(Error::TooLarge {
                    size,
                    max: self.inner.max_event,
                });
            }
            self.inner.broker.publish(&channel, event, key).await
        }
        .await;
        if let Err(error) = &sent {
            crate::telemetry::send_failed(error);
        }
        sent
    }

    /// Sends an event with a name and data to `channel`: the seed's
    /// `send_event("myevent", "mydata", channel="foo")`.
    pub async fn send_event(
        &self,
        event: &str,
        data: impl Into<String>,
        channel: &str,
    ) -> Result<(), Error> {
        self.send(channel, &Event::new().try_event(event)?.data(data))
            .await
    }

    /// Sends an event whose data is `data` serialized as JSON.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        channel: &str,
    ) -> Result<(), Error> {
        self.send(channel, &Event::new().try_event(event)?.json_data(data)?)
            .await
    }

    /// How many channels one stream may follow.
    pub fn stream_channels(&self) -> usize {
        self.inner.stream_channels
    }

    /// How many streams listen to `channel`, in every process that shares the broker:
    /// each process reports its own within a quarter of a second, and one that stops
    /// without a goodbye drops out within ten seconds. Embedded, this process's.
    pub async fn presence(&self, channel: &str) -> Result<usize, Error> {
        let channel = ChannelName::new(channel)?;
        match self.inner.broker.presence(&channel).await? {
            Some(count) => Ok(count),
            None => Ok(self.inner.fanout.readers(channel.as_str())),
        }
    }

    /// Tells the clients of `channels` that a stream joined, as `member` (or an
    /// anonymous name), and that it left when the membership is dropped. Every stream
    /// is counted, announced or not: the channels' queues count their listeners.
    pub(crate) fn announce(
        &self,
        channels: Vec<ChannelName>,
        member: Option<String>,
    ) -> Membership {
        let fanout = self.inner.fanout.clone();
        fanout.presence().announce(fanout.clone(), channels, member)
    }

    /// Starts reporting this process's presence, with its first stream.
    fn start_presence(&self) {
        let Inner { fanout, broker, .. } = &*self.inner;
        fanout.presence().start(fanout, broker);
    }

    /// How many channels have listeners in this process now.
    pub fn listened_channels(&self) -> usize {
        self.inner.fanout.channel_count()
    }

    /// Whether the hub can work: `Err` for a hub whose configuration was refused.
    pub fn check(&self) -> Result<(), Error> {
        self.inner.broker.check()
    }

    /// Follows `channel` for one client: what it missed since `last_event_id` (its
    /// `Last-Event-ID`), then every event sent to the channel, each once and in order;
    /// and how the following starts.
    pub(crate) async fn follow(
        &self,
        channel: ChannelName,
        last_event_id: Option<&str>,
    ) -> (Start, Follow) {
        self.start_presence();
        Follow::new(self, channel, last_event_id).await
    }

    /// Follows several channels as one stream for one client, resuming each from the
    /// cursor `last_event_id`; and how each channel starts, in the order given.
    pub(crate) async fn feed(
        &self,
        channels: Vec<ChannelName>,
        last_event_id: Option<&str>,
    ) -> (Vec<Start>, Feed) {
        self.start_presence();
        Feed::new(self, channels, last_event_id).await
    }
}

/// Sends an event with a name and data to `channel` through the process's hub, from any
/// handler or task: the seed's `send_event`.
///
/// ```no_run
/// # async fn someview() -> Result<&'static str, sse_runtime::Error> {
/// sse_runtime::send_event("myevent", "mydata", "foo").await?;
/// # Ok("dummy response") }
/// ```
pub async fn send_event(event: &str, data: impl Into<String>, channel: &str) -> Result<(), Error> {
    Hub::global().send_event(event, data, channel).await
}

/// The RabbitMQ broker.
#[cfg(feature = "amqp")]
fn amqp_broker(
    fanout: &Arc<Fanout>,
    amqp: &builder::Amqp,
    settings: &Settings,
) -> Result<Arc<dyn Broker>, Error> {
    Ok(Arc::new(amqp::AmqpBroker::new(fanout, amqp, settings)?))
}

/// Without the `amqp` feature, a RabbitMQ URL is a configuration this build cannot use.
#[cfg(not(feature = "amqp"))]
fn amqp_broker(
    _: &Arc<Fanout>,
    amqp: &builder::Amqp,
    _: &Settings,
) -> Result<Arc<dyn Broker>, Error> {
    Err(Error::Config(format!(
        "RabbitMQ at `{}` needs sse-runtime's `amqp` feature: add `features = [\"amqp\"]` to its dependency",
        amqp.url
    )))
}

/// The broker of a hub whose configuration was refused: it refuses everything, saying why.
struct Misconfigured(String);

impl Misconfigured {
    fn refuse<'a, T: Send + 'a>(&'a self) -> BoxFuture<'a, Result<T, Error>> {
        Box::pin(async move { Err(Error::Config(self.0.clone())) })
    }
}

impl Broker for Misconfigured {
    fn publish<'a>(
        &'a self,
        _: &'a ChannelName,
        _: &'a Event,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.refuse()
    }
    fn history<'a>(
        &'a self,
        _: &'a ChannelName,
        _: EventId,
        _: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        self.refuse()
    }
    fn history_from_beginning<'a>(
        &'a self,
        _: &'a ChannelName,
        _: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        self.refuse()
    }
    fn last_ids<'a>(
        &'a self,
        _: &'a [&'a ChannelName],
    ) -> BoxFuture<'a, Result<Vec<Option<EventId>>, Error>> {
        self.refuse()
    }
    fn report<'a>(
        &'a self,
        _: &'a str,
        _: &'a [presence::ChannelReport],
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.refuse()
    }
    fn presence<'a>(&'a self, _: &'a ChannelName) -> BoxFuture<'a, Result<Option<usize>, Error>> {
        self.refuse()
    }
    fn listen(&self, _: &ChannelName) -> bool {
        false
    }
    fn unlisten(&self, _: &ChannelName) {}
    fn check(&self) -> Result<(), Error> {
        Err(Error::Config(self.0.clone()))
    }
}
