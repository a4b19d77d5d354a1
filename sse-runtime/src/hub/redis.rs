//! The Redis broker: one subscriber connection for the whole process, whatever the number
//! of clients and channels, and one connection to publish on.
//!
//! A background task owns the subscriber connection. The fanout tells it, in order, which
//! channels gained their first listener and which lost their last; it SUBSCRIBEs and
//! UNSUBSCRIBEs accordingly, and delivers each message it receives, decoded and encoded
//! once, to the fanout. When the connection drops it reconnects with backoff and
//! subscribes again to every channel that still has listeners, logging each transition
//! once, not once per client.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::mpsc;

use super::fanout::Fanout;
use super::{payload, BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;

/// A change of what the process listens to.
enum Change {
    Listen(ChannelName),
    Unlisten(ChannelName),
}

pub(crate) struct RedisBroker {
    client: redis::Client,
    changes: mpsc::UnboundedSender<Change>,
    /// Taken by the first listener, which starts the subscriber task with it.
    subscriber: Mutex<Option<Subscriber>>,
    /// The connection events are published on, opened on first use and again after
    /// an error.
    publisher: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl RedisBroker {
    pub(crate) fn new(fanout: &Arc<Fanout>, url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|error| {
            Error::Config(format!("the Redis URL `{url}` cannot be used: {error}"))
        })?;
        let (changes, receiver) = mpsc::unbounded_channel();
        Ok(Self {
            subscriber: Mutex::new(Some(Subscriber {
                client: client.clone(),
                changes: receiver,
                fanout: Arc::downgrade(fanout),
            })),
            client,
            changes,
            publisher: tokio::sync::Mutex::new(None),
        })
    }

    fn start_subscriber(&self) {
        let mut slot = self
            .subscriber
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                if let Some(subscriber) = slot.take() {
                    runtime.spawn(subscriber.run());
                }
            }
            Err(_) => tracing::error!("the Redis hub was first used outside a tokio runtime; it starts with the first listener inside one"),
        }
    }
}

impl Broker for RedisBroker {
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let payload = payload::encode(event);
            let mut publisher = self.publisher.lock().await;
            let connection = match &mut *publisher {
                Some(connection) => connection,
                None => publisher.insert(self.client.get_multiplexed_async_connection().await?),
            };
            let sent: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(channel.as_str())
                .arg(payload)
                .query_async(connection)
                .await;
            if let Err(error) = sent {
                *publisher = None;
                return Err(error.into());
            }
            Ok(())
        })
    }

    fn listen(&self, channel: &ChannelName) -> bool {
        self.start_subscriber();
        let _ = self.changes.send(Change::Listen(channel.clone()));
        false
    }

    fn unlisten(&self, channel: &ChannelName) {
        let _ = self.changes.send(Change::Unlisten(channel.clone()));
    }
}

/// The task that holds the subscriber connection.
struct Subscriber {
    client: redis::Client,
    changes: mpsc::UnboundedReceiver<Change>,
    fanout: Weak<Fanout>,
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

impl Subscriber {
    async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        let mut down_since_logged = false;
        loop {
            match self
                .connect_and_serve(&mut down_since_logged, &mut retry)
                .await
            {
                Ended::HubGone => return,
                Ended::ConnectionLost(error) => {
                    if let Some(fanout) = self.fanout.upgrade() {
                        fanout.set_none_ready();
                    }
                    if !down_since_logged {
                        tracing::warn!(%error, "lost the Redis subscriber connection; reconnecting with backoff");
                        down_since_logged = true;
                    }
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    async fn connect_and_serve(&mut self, down_logged: &mut bool, retry: &mut Duration) -> Ended {
        let pubsub = match self.client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(error) => return Ended::ConnectionLost(error.to_string()),
        };
        let (mut sink, mut messages) = pubsub.split();
        let Some(fanout) = self.fanout.upgrade() else {
            return Ended::HubGone;
        };
        // Everything that has listeners now; changes queued meanwhile are applied after,
        // in order, and subscribing twice is harmless.
        for channel in fanout.channel_names() {
            if let Err(error) = subscribe(&mut sink, &fanout, &channel).await {
                return Ended::ConnectionLost(error.to_string());
            }
        }
        drop(fanout);
        if *down_logged {
            tracing::info!("the Redis subscriber connection is back; channels resubscribed");
            *down_logged = false;
        }
        *retry = FIRST_RETRY;
        loop {
            tokio::select! {
                change = self.changes.recv() => {
                    let Some(fanout) = self.fanout.upgrade() else { return Ended::HubGone };
                    let done = match change {
                        None => return Ended::HubGone,
                        Some(Change::Listen(channel)) => subscribe(&mut sink, &fanout, &channel).await,
                        Some(Change::Unlisten(channel)) => sink.unsubscribe(channel.as_str()).await,
                    };
                    if let Err(error) = done {
                        return Ended::ConnectionLost(error.to_string());
                    }
                }
                message = messages.next() => {
                    let Some(message) = message else {
                        return Ended::ConnectionLost("the connection closed".into());
                    };
                    let Some(fanout) = self.fanout.upgrade() else { return Ended::HubGone };
                    deliver(&fanout, message.get_channel_name(), message.get_payload_bytes());
                }
            }
        }
    }
}

enum Ended {
    HubGone,
    ConnectionLost(String),
}

async fn subscribe(
    sink: &mut PubSubSink,
    fanout: &Fanout,
    channel: &ChannelName,
) -> redis::RedisResult<()> {
    sink.subscribe(channel.as_str()).await?;
    fanout.set_ready(channel.as_str(), true);
    Ok(())
}

/// Decodes a payload once and hands the encoded event to the channel's listeners; a
/// payload that is no event is logged and skipped, and the stream goes on.
fn deliver(fanout: &Fanout, channel: &str, payload: &[u8]) {
    match payload::decode(payload) {
        Ok(event) => fanout.deliver(channel, event.encode()),
        Err(reason) => {
            let error = Error::BadPayload {
                channel: channel.into(),
                reason,
            };
            tracing::warn!(%error);
        }
    }
}
