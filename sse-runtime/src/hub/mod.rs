//! The hub: one per process, between the brokers that carry events and the clients that
//! stream them.
//!
//! Each channel with local listeners has one broadcast of encoded bytes: an event is
//! encoded once per process and every client of the channel gets the same bytes. The
//! broker is told when a channel gets its first local listener and when its last one
//! leaves, so the Redis broker holds one subscriber connection for the whole process and
//! subscribes only to what someone here is listening to.

mod embedded;
mod fanout;
pub(crate) mod history;
pub(crate) mod payload;
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::channel::ChannelName;
use crate::config::{HubBuilder, Settings};
use crate::error::Error;
use crate::event::Event;
use fanout::Fanout;
use history::{EventId, Frame, Resume};

/// A future a broker returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What carries events between processes. A second backend (NATS, RabbitMQ) plugs in
/// by implementing this and delivering what it receives into the [`Fanout`].
pub(crate) trait Broker: Send + Sync + 'static {
    /// Sends `event` to the listeners of `channel` in every process.
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// The events of `channel` after `last`, from the history the broker keeps.
    fn resume<'a>(
        &'a self,
        channel: &'a ChannelName,
        last: EventId,
    ) -> BoxFuture<'a, Result<Resume, Error>>;

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
    fanout: Arc<Fanout>,
    broker: Arc<dyn Broker>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("channels", &self.fanout.channel_count())
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

    /// A builder for every setting.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    pub(crate) fn from_settings(settings: &Settings) -> Result<Hub, Error> {
        let fanout = Arc::new(Fanout::new(settings.client_queue));
        let broker: Arc<dyn Broker> = match &settings.redis_url {
            Some(url) => Arc::new(redis::RedisBroker::new(&fanout, url, settings)?),
            None => Arc::new(embedded::Embedded::new(
                &fanout,
                settings.history,
                settings.history_channels,
            )),
        };
        Ok(Hub { fanout, broker })
    }

    /// The process's hub: the one installed with [`Hub::set_global`], or else one made
    /// from the environment on first use (Redis when `SSE_REDIS_URL` is set, embedded
    /// otherwise). A bad `SSE_REDIS_URL` is logged, and every send and subscription
    /// then fails with [`Error::Config`] rather than quietly staying in-process.
    pub fn global() -> &'static Hub {
        GLOBAL.get_or_init(|| {
            HubBuilder::from_env().build().unwrap_or_else(|error| {
                tracing::error!(%error, "the SSE hub cannot be built from the environment");
                Hub {
                    fanout: Arc::new(Fanout::new(1)),
                    broker: Arc::new(Misconfigured(error.to_string())),
                }
            })
        })
    }

    /// Makes `self` the process's hub. Fails, handing it back, if [`Hub::global`] was
    /// already used or set.
    pub fn set_global(self) -> Result<(), Hub> {
        GLOBAL.set(self)
    }

    /// Sends `event` to every listener of `channel`, in every process that shares the
    /// broker. An error means the event was not sent.
    pub async fn send(&self, channel: &str, event: &Event) -> Result<(), Error> {
        let channel = ChannelName::new(channel)?;
        self.broker.publish(&channel, event).await
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

    /// How many channels have listeners in this process now.
    pub fn listened_channels(&self) -> usize {
        self.fanout.channel_count()
    }

    /// Whether the hub can work: `Err` for a hub whose configuration was refused.
    pub fn check(&self) -> Result<(), Error> {
        self.broker.check()
    }

    /// What a client that last saw `last` missed on `channel`.
    pub(crate) async fn resume(
        &self,
        channel: &ChannelName,
        last: EventId,
    ) -> Result<Resume, Error> {
        self.broker.resume(channel, last).await
    }

    /// Listens to `channel`: the events sent to it from now on, encoded.
    pub(crate) fn subscribe(&self, channel: ChannelName) -> Subscription {
        let (receiver, ready) = self.fanout.join(&channel, &*self.broker);
        Subscription {
            receiver,
            ready,
            _listener: Listener {
                hub: self.clone(),
                channel,
            },
        }
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

/// One listener of one channel. Dropping it leaves the channel.
#[derive(Debug)]
pub(crate) struct Subscription {
    // Dropped before the listener, so the listener sees an accurate count.
    receiver: broadcast::Receiver<Frame>,
    ready: watch::Receiver<bool>,
    _listener: Listener,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The listener fell further behind than its queue holds.
    Lagged(u64),
    /// The hub was shut down.
    Closed,
}

impl Subscription {
    /// The next encoded event, or why there is none.
    pub(crate) async fn recv(&mut self) -> Result<Frame, Ended> {
        self.receiver.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(missed) => Ended::Lagged(missed),
            broadcast::error::RecvError::Closed => Ended::Closed,
        })
    }

    /// The next event if one is queued already.
    pub(crate) fn try_recv(&mut self) -> Option<Frame> {
        self.receiver.try_recv().ok()
    }

    /// How many events are queued, not received yet.
    pub(crate) fn queued(&self) -> usize {
        self.receiver.len()
    }

    /// Waits until the broker delivers the channel (at once for the embedded hub; after
    /// Redis confirmed the subscription otherwise), for at most `limit`. Returns whether
    /// it does.
    pub(crate) async fn ready_within(&mut self, limit: Duration) -> bool {
        let ready = self.ready.wait_for(|ready| *ready);
        matches!(tokio::time::timeout(limit, ready).await, Ok(Ok(_)))
    }
}

#[derive(Debug)]
struct Listener {
    hub: Hub,
    channel: ChannelName,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.hub.fanout.leave(&self.channel, &*self.hub.broker);
    }
}

/// The broker of a hub whose configuration was refused: it refuses everything, saying why.
struct Misconfigured(String);

impl Broker for Misconfigured {
    fn publish<'a>(&'a self, _: &'a ChannelName, _: &'a Event) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Err(Error::Config(self.0.clone())) })
    }
    fn resume<'a>(
        &'a self,
        _: &'a ChannelName,
        _: EventId,
    ) -> BoxFuture<'a, Result<Resume, Error>> {
        Box::pin(async move { Err(Error::Config(self.0.clone())) })
    }
    fn listen(&self, _: &ChannelName) -> bool {
        false
    }
    fn unlisten(&self, _: &ChannelName) {}
    fn check(&self) -> Result<(), Error> {
        Err(Error::Config(self.0.clone()))
    }
}
