//! The Redis broker: ONE connection for the whole process, whatever the number of
//! clients and channels. It speaks RESP3, in which a connection that subscribes can still
//! run commands, and the messages of its subscriptions arrive as pushes; so sending,
//! reading history and listening share it (Redis 6 or later).
//!
//! Sending runs one script: `XADD` to the channel's history stream (trimmed with
//! `MAXLEN ~`), whose id becomes the event's id, then `PUBLISH` of the envelope with that
//! id. Redis runs a script atomically, so every instance sees a channel's events in id
//! order, and a client that resumes reads the same stream wherever it reconnects.
//!
//! A background task listens. The fanout tells it, in order, which channels gained their
//! first listener and which lost their last; it SUBSCRIBEs and UNSUBSCRIBEs accordingly,
//! and delivers each message pushed to it, decoded and encoded once, to the fanout. When
//! the connection drops it reconnects with backoff, subscribes again to every channel
//! that still has listeners, and delivers from history what each missed meanwhile,
//! logging each transition once, not once per client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::fanout::Fanout;
use super::history::{EventId, Frame, Resume};
use super::{payload, BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::config::Settings;
use crate::error::Error;
use crate::event::Event;

/// XADD to the history, renew its time to live, then PUBLISH with the id XADD gave,
/// atomically.
const SEND: &str = r#"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[3], '{"$sse":1,"id":"' .. id .. '"' .. ARGV[2])
return id
"#;

/// The key of a channel's history stream.
fn history_key(channel: &str) -> String {
    format!("sse:history:{channel}")
}

/// A change of what the process listens to.
enum Change {
    Listen(ChannelName),
    Unlisten(ChannelName),
}

pub(crate) struct RedisBroker {
    changes: mpsc::UnboundedSender<Change>,
    /// Taken by the first listener, which starts the subscriber task with it.
    subscriber: Mutex<Option<Subscriber>>,
    commands: Commands,
    send: redis::Script,
    history: usize,
    /// Seconds a history outlives its channel's last event.
    history_ttl: u64,
}

impl RedisBroker {
    pub(crate) fn new(fanout: &Arc<Fanout>, url: &str, settings: &Settings) -> Result<Self, Error> {
        let unusable = |error: redis::RedisError| {
            Error::Config(format!("the Redis URL `{url}` cannot be used: {error}"))
        };
        let info = url.into_connection_info().map_err(unusable)?;
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3)).map_err(unusable)?;
        let (changes, receiver) = mpsc::unbounded_channel();
        let (pushes, pushed) = mpsc::unbounded_channel();
        let commands = Commands {
            link: Arc::new(Link {
                client,
                slot: tokio::sync::Mutex::default(),
                opened: AtomicU64::new(0),
                pushes,
            }),
        };
        Ok(Self {
            subscriber: Mutex::new(Some(Subscriber {
                changes: receiver,
                pushed,
                fanout: Arc::downgrade(fanout),
                commands: commands.clone(),
                delivered: HashMap::new(),
            })),
            changes,
            commands,
            send: redis::Script::new(SEND),
            // A stream trimmed to nothing would leave no id to resume from.
            history: settings.history.max(1),
            history_ttl: settings.history_ttl.as_secs().max(1),
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
            Err(_) => tracing::error!(
                "the Redis hub was first listened to outside a tokio runtime; it starts with the first listener inside one"
            ),
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
            let (opened, mut connection) = self.commands.connection().await?;
            let sent: Result<String, _> = self
                .send
                .key(history_key(channel.as_str()))
                .arg(self.history)
                .arg(payload::encode_after_id(event))
                .arg(channel.as_str())
                .arg(self.history_ttl)
                .invoke_async(&mut connection)
                .await;
            match sent {
                Ok(_) => Ok(()),
                Err(error) => self.commands.failed(opened, error).await,
            }
        })
    }

    fn resume<'a>(
        &'a self,
        channel: &'a ChannelName,
        last: EventId,
    ) -> BoxFuture<'a, Result<Resume, Error>> {
        Box::pin(async move {
            // One read from `last` on: the history holds `last` if it comes first.
            let mut from_last = self
                .commands
                .range(channel.as_str(), &last.to_string(), "+")
                .await?;
            if from_last.first().and_then(|frame| frame.id) != Some(last) {
                return Ok(Resume::Unknown);
            }
            from_last.remove(0);
            Ok(Resume::After(from_last))
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

/// The process's connection to Redis, opened on first use and again after it is lost.
#[derive(Clone)]
struct Commands {
    link: Arc<Link>,
}

struct Link {
    client: redis::Client,
    /// The open connection, and its number.
    slot: tokio::sync::Mutex<Option<(u64, MultiplexedConnection)>>,
    /// How many connections were opened: the number of the last one.
    opened: AtomicU64,
    /// Where every connection pushes, tagged with its number.
    pushes: mpsc::UnboundedSender<(u64, PushInfo)>,
}

/// Pushes of connection number `0`, tagged with it: a push from a connection already
/// replaced must not be taken for one of the current connection.
struct Tagged(u64, mpsc::UnboundedSender<(u64, PushInfo)>);

impl AsyncPushSender for Tagged {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        self.1.send((self.0, info)).map_err(|_| SendError)
    }
}

impl Commands {
    /// The open connection and its number, opening one if there is none.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), Error> {
        let mut slot = self.link.slot.lock().await;
        if let Some((number, connection)) = &*slot {
            return Ok((*number, connection.clone()));
        }
        let number = self.link.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let pushes = Tagged(number, self.link.pushes.clone());
        let config = AsyncConnectionConfig::new().set_push_sender(pushes);
        let connection = self
            .link
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some((number, connection.clone()));
        Ok((number, connection))
    }

    /// Forgets connection `number` if it is still the open one, so that the next command
    /// opens a new one.
    async fn forget(&self, number: u64) {
        let mut slot = self.link.slot.lock().await;
        if slot.as_ref().is_some_and(|(open, _)| *open == number) {
            *slot = None;
        }
    }

    /// After `error` on connection `number`: forgets the connection if the error broke it.
    async fn failed<T>(&self, number: u64, error: redis::RedisError) -> Result<T, Error> {
        if error.is_unrecoverable_error() {
            self.forget(number).await;
        }
        Err(error.into())
    }

    /// The history entries of `channel` from `start` to `end` (XRANGE syntax), as frames.
    async fn range(&self, channel: &str, start: &str, end: &str) -> Result<Vec<Frame>, Error> {
        let (opened, mut connection) = self.connection().await?;
        let reply: redis::RedisResult<redis::streams::StreamRangeReply> = redis::cmd("XRANGE")
            .arg(history_key(channel))
            .arg(start)
            .arg(end)
            .query_async(&mut connection)
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => return self.failed(opened, error).await,
        };
        Ok(reply
            .ids
            .iter()
            .filter_map(|entry| {
                let rest: String = entry.get("e")?;
                frame(channel, payload::with_id(&entry.id, &rest).as_bytes())
            })
            .collect())
    }
}

/// The task that listens: it subscribes the connection and takes its pushes.
struct Subscriber {
    changes: mpsc::UnboundedReceiver<Change>,
    pushed: mpsc::UnboundedReceiver<(u64, PushInfo)>,
    fanout: Weak<Fanout>,
    commands: Commands,
    /// The id of the last event delivered on each channel with listeners: where to fill
    /// the gap from after a reconnection, and what not to deliver twice.
    delivered: HashMap<ChannelName, EventId>,
}

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

enum Stop {
    HubGone,
    ConnectionLost(String),
}

impl Subscriber {
    async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        let mut down = false;
        loop {
            match self.connect_and_serve(&mut down, &mut retry).await {
                Stop::HubGone => return,
                Stop::ConnectionLost(error) => {
                    if let Some(fanout) = self.fanout.upgrade() {
                        fanout.set_none_ready();
                    }
                    if !down {
                        tracing::warn!(%error, "lost the Redis subscriber connection; reconnecting with backoff");
                        down = true;
                    }
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    async fn connect_and_serve(&mut self, down: &mut bool, retry: &mut Duration) -> Stop {
        let (opened, mut connection) = match self.commands.connection().await {
            Ok(open) => open,
            Err(error) => return Stop::ConnectionLost(error.to_string()),
        };
        let lost = |error: redis::RedisError| Stop::ConnectionLost(error.to_string());
        let Some(fanout) = self.fanout.upgrade() else {
            return Stop::HubGone;
        };
        // Everything that has listeners now; changes queued meanwhile are applied after,
        // in order, and subscribing twice is harmless.
        for channel in fanout.channel_names() {
            if let Err(error) = subscribe(&mut connection, &fanout, &channel).await {
                self.commands.forget(opened).await;
                return lost(error);
            }
        }
        if let Err(error) = self.fill_gaps(&fanout).await {
            return Stop::ConnectionLost(error.to_string());
        }
        drop(fanout);
        if *down {
            tracing::info!("the Redis subscriber connection is back; channels resubscribed");
            *down = false;
        }
        *retry = FIRST_RETRY;
        loop {
            tokio::select! {
                change = self.changes.recv() => {
                    let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                    let done = match change {
                        None => return Stop::HubGone,
                        Some(Change::Listen(channel)) => subscribe(&mut connection, &fanout, &channel).await,
                        Some(Change::Unlisten(channel)) => {
                            self.delivered.remove(&channel);
                            connection.unsubscribe(channel.as_str()).await
                        }
                    };
                    if let Err(error) = done {
                        self.commands.forget(opened).await;
                        return lost(error);
                    }
                }
                pushed = self.pushed.recv() => {
                    let Some((from, push)) = pushed else { return Stop::HubGone };
                    if from != opened {
                        continue;
                    }
                    match push.kind {
                        PushKind::Message => {
                            let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                            if let [redis::Value::BulkString(channel), redis::Value::BulkString(payload)] = &push.data[..] {
                                let channel = String::from_utf8_lossy(channel);
                                if let Some(frame) = frame(&channel, payload) {
                                    self.deliver(&fanout, &channel, frame);
                                }
                            }
                        }
                        PushKind::Disconnection => {
                            self.commands.forget(opened).await;
                            return Stop::ConnectionLost("the connection closed".into());
                        }
                        // Confirmations of SUBSCRIBE and UNSUBSCRIBE.
                        _ => {}
                    }
                }
            }
        }
    }

    /// Delivers `frame` unless an event with its id or a later one was delivered already.
    fn deliver(&mut self, fanout: &Fanout, channel: &str, frame: Frame) {
        if let Some(id) = frame.id {
            match self.delivered.get_mut(channel) {
                Some(last) if *last >= id => return,
                Some(last) => *last = id,
                None => {
                    if let Ok(name) = ChannelName::new(channel) {
                        self.delivered.insert(name, id);
                    }
                }
            }
        }
        fanout.deliver(channel, frame);
    }

    /// After a reconnection: delivers from history what each channel missed meanwhile.
    async fn fill_gaps(&mut self, fanout: &Fanout) -> Result<(), Error> {
        let missed: Vec<(ChannelName, EventId)> = self
            .delivered
            .iter()
            .map(|(channel, last)| (channel.clone(), *last))
            .collect();
        for (channel, last) in missed {
            let frames = self
                .commands
                .range(channel.as_str(), &format!("({last}"), "+")
                .await?;
            for frame in frames {
                self.deliver(fanout, channel.as_str(), frame);
            }
        }
        Ok(())
    }
}

async fn subscribe(
    connection: &mut MultiplexedConnection,
    fanout: &Fanout,
    channel: &ChannelName,
) -> redis::RedisResult<()> {
    connection.subscribe(channel.as_str()).await?;
    fanout.set_ready(channel.as_str(), true);
    Ok(())
}

/// Decodes a payload once and encodes it for the clients; a payload that is no event is
/// logged and skipped, and the stream goes on.
fn frame(channel: &str, payload: &[u8]) -> Option<Frame> {
    match payload::decode(payload) {
        Ok(event) => Some(Frame {
            id: event.id_str().and_then(|id| id.parse().ok()),
            bytes: event.encode(),
        }),
        Err(reason) => {
            let error = Error::BadPayload {
                channel: channel.into(),
                reason,
            };
            tracing::warn!(%error);
            None
        }
    }
}
