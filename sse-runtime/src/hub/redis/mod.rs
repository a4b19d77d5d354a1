//! The Redis broker: two connections per process, whatever the number of clients and
//! channels. One listens ([`subscriber`]): Redis applies its pub/sub output limit to it,
//! and only messages travel on it. The other runs commands ([`link`]): every send and
//! every history read, so a large history read never meets that limit and sends never
//! wait behind deliveries.
//!
//! Sending runs one script (`send.lua`): `XADD` to the channel's history stream, whose
//! id becomes the event's id, trimming to the count and byte budget, then `PUBLISH` of
//! the envelope with that id. Redis runs a script atomically, so every instance sees a
//! channel's events in id order, and a client that resumes reads the same stream
//! wherever it reconnects. History is read in pages (`XRANGE ... COUNT`).

mod link;
mod subscriber;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::streams::{StreamId, StreamRangeReply};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, RedisError};
use tokio::sync::mpsc;

use super::builder::{Settings, DEFAULT_REDIS_HISTORY_BYTES};
use super::encoded::Encoded;
use super::fanout::Fanout;
use super::history::Page;
use super::id::EventId;
use super::presence::{self, ChannelReport};
use super::{payload, BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;
use link::Link;
use subscriber::{Change, Subscriber};

/// The key of a channel's history stream.
fn history_key(channel: &str) -> String {
    format!("sse:history:{channel}")
}

/// The key of the sorted set of processes by their last presence heartbeat.
const PROCESSES_KEY: &str = "sse:presence:processes";

/// The key of a channel's hash of stream counts by process.
fn presence_key(channel: &str) -> String {
    format!("sse:presence:channel:{channel}")
}

/// How long a channel's presence hash outlives the last report that named it: longer
/// than the time between two full reports.
const PRESENCE_TTL: Duration = Duration::from_secs(60);

/// The key that remembers an idempotency key of a channel. The channel's length comes
/// first: channel `a:b` with key `c` and channel `a` with key `b:c` are not the same.
fn sent_key(channel: &str, key: &str) -> String {
    format!("sse:sent:{}:{channel}:{key}", channel.len())
}

pub(crate) struct RedisBroker {
    changes: mpsc::UnboundedSender<Change>,
    /// Taken by the first listener, which starts the subscriber task with it.
    subscriber: Mutex<Option<Subscriber>>,
    commands: Arc<Commands>,
}

/// What runs on the command connection.
pub(super) struct Commands {
    link: Arc<Link>,
    send: redis::Script,
    report: redis::Script,
    count: redis::Script,
    history: usize,
    history_bytes: usize,
    /// Seconds a history outlives its channel's last event.
    history_ttl: u64,
    max_event: usize,
}

impl RedisBroker {
    pub(crate) fn new(fanout: &Arc<Fanout>, settings: &Settings) -> Result<Self, Error> {
        let url = settings.redis_url.as_deref().unwrap_or_default();
        let unusable = |error: RedisError| {
            Error::Config(format!(
                "the Redis URL `{url}` cannot be used ({error}): write redis://host:port/db, or host:port"
            ))
        };
        let info = url.into_connection_info().map_err(unusable)?;
        // RESP3: the subscriber's messages arrive as pushes on a multiplexed connection.
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3)).map_err(unusable)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.redis_timeout))
            .set_response_timeout(Some(settings.redis_timeout));
        let commands = Arc::new(Commands {
            link: Link::new(client.clone(), config.clone()),
            send: redis::Script::new(include_str!("send.lua")),
            report: redis::Script::new(include_str!("presence.lua")),
            count: redis::Script::new(include_str!("count.lua")),
            // A stream trimmed to nothing would leave no id to resume from.
            history: settings.history.max(1),
            history_bytes: settings
                .history_bytes
                .unwrap_or(DEFAULT_REDIS_HISTORY_BYTES),
            history_ttl: settings.history_ttl.as_secs().max(1),
            max_event: settings.max_event,
        });
        let (changes, receiver) = mpsc::unbounded_channel();
        let subscriber = Subscriber::new(
            client,
            config,
            receiver,
            Arc::downgrade(fanout),
            commands.clone(),
            settings.max_event,
        );
        Ok(Self {
            subscriber: Mutex::new(Some(subscriber)),
            changes,
            commands,
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
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.commands.send(channel, event, key))
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        from: EventId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        Box::pin(self.commands.history(channel, from, limit))
    }

    fn history_from_beginning<'a>(
        &'a self,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        Box::pin(self.commands.history_from_beginning(channel, limit))
    }

    fn last_ids<'a>(
        &'a self,
        channels: &'a [&'a ChannelName],
    ) -> BoxFuture<'a, Result<Vec<Option<EventId>>, Error>> {
        Box::pin(self.commands.last_ids(channels))
    }

    fn report<'a>(
        &'a self,
        process: &'a str,
        changes: &'a [ChannelReport],
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.commands.report(process, changes))
    }

    fn presence<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Option<usize>, Error>> {
        Box::pin(async move { self.commands.presence(channel).await.map(Some) })
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

impl Commands {
    async fn send(
        &self,
        channel: &ChannelName,
        event: &Event,
        key: Option<&str>,
    ) -> Result<(), Error> {
        // Not connected: nothing was sent.
        let mut connection = self.link.connection().await?;
        let mut invocation = self.send.key(history_key(channel.as_str()));
        if let Some(key) = key {
            invocation.key(sent_key(channel.as_str(), key));
        }
        let sent: Result<String, RedisError> = invocation
            .arg(self.history)
            .arg(payload::encode_after_id(event))
            .arg(channel.as_str())
            .arg(self.history_ttl)
            .arg(self.history_bytes)
            .arg(payload::BEFORE_ID)
            .arg(payload::AFTER_ID)
            .invoke_async(&mut connection)
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Written, and then no answer: Redis may have run it.
            Err(error) if error.is_timeout() || error.is_connection_dropped() => {
                Err(Error::OutcomeUnknown(error))
            }
            Err(error) => Err(Error::Redis(error)),
        }
    }

    /// Records a presence report of `process`: one script, whatever the number of
    /// channels.
    async fn report(&self, process: &str, changes: &[ChannelReport]) -> Result<(), Error> {
        let mut connection = self.link.connection().await?;
        let mut invocation = self.report.key(PROCESSES_KEY);
        invocation
            .arg(process)
            .arg(presence::DEAD.as_millis() as u64)
            .arg(PRESENCE_TTL.as_secs());
        for change in changes {
            invocation
                .key(presence_key(change.channel.as_str()))
                .arg(change.channel.as_str())
                .arg(change.count)
                .arg(change.members.as_deref().unwrap_or_default());
        }
        let _: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    /// How many streams listen to `channel` in every live process.
    async fn presence(&self, channel: &ChannelName) -> Result<usize, Error> {
        let mut connection = self.link.connection().await?;
        let count: usize = self
            .count
            .key(PROCESSES_KEY)
            .key(presence_key(channel.as_str()))
            .arg(presence::DEAD.as_millis() as u64)
            .invoke_async(&mut connection)
            .await?;
        Ok(count)
    }

    /// Up to `limit` events of `channel` after `from`, if the history holds `from`.
    pub(super) async fn history(
        &self,
        channel: &ChannelName,
        from: EventId,
        limit: usize,
    ) -> Result<Page, Error> {
        // From `from` itself: the history holds it if it comes first.
        let entries = self.range(channel, &from.to_string(), limit + 1).await?;
        let mut entries = entries.ids.iter();
        if entries.next().map(|entry| entry.id.parse()) != Some(Ok(from)) {
            return Ok(Page::Unknown);
        }
        Ok(Page::After(self.frames(channel, entries)))
    }

    /// Up to `limit` of the first events of `channel`, if its stream never dropped one:
    /// Redis (7 and later) tells the newest id it deleted, `0-0` if none. A stream that
    /// does not exist has had no event within the history's time to live.
    pub(super) async fn history_from_beginning(
        &self,
        channel: &ChannelName,
        limit: usize,
    ) -> Result<Page, Error> {
        // The page first, then whether anything was ever deleted: a trim between the
        // two shows in the second.
        let entries = self.range(channel, "-", limit).await?;
        let mut connection = self.link.connection().await?;
        let info: redis::RedisResult<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(history_key(channel.as_str()))
            .query_async(&mut connection)
            .await;
        let info = match info {
            Ok(info) => info,
            Err(error) if error.detail().is_some_and(|it| it.contains("no such key")) => {
                return Ok(Page::After(Vec::new()));
            }
            Err(error) => return Err(error.into()),
        };
        let deleted = info
            .get("max-deleted-entry-id")
            .and_then(|id| redis::from_redis_value_ref::<String>(id).ok());
        if deleted.as_deref() != Some("0-0") {
            return Ok(Page::Unknown);
        }
        Ok(Page::After(self.frames(channel, entries.ids.iter())))
    }

    /// The id of the newest event the history of each of `channels` holds: one
    /// `XREVRANGE` a channel, as one pipeline.
    pub(super) async fn last_ids(
        &self,
        channels: &[&ChannelName],
    ) -> Result<Vec<Option<EventId>>, Error> {
        let mut connection = self.link.connection().await?;
        let mut pipe = redis::pipe();
        for channel in channels {
            pipe.cmd("XREVRANGE")
                .arg(history_key(channel.as_str()))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let newest: Vec<StreamRangeReply> = pipe.query_async(&mut connection).await?;
        Ok(newest
            .iter()
            .map(|newest| newest.ids.first().and_then(|entry| entry.id.parse().ok()))
            .collect())
    }

    /// Up to `limit` events of `channel` after `after`, whether the history holds it or
    /// not: what a channel missed while the subscriber was away.
    pub(super) async fn range_after(
        &self,
        channel: &ChannelName,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Encoded>, Error> {
        let entries = self.range(channel, &format!("({after}"), limit).await?;
        Ok(self.frames(channel, entries.ids.iter()))
    }

    async fn range(
        &self,
        channel: &ChannelName,
        start: &str,
        count: usize,
    ) -> Result<StreamRangeReply, Error> {
        let mut connection = self.link.connection().await?;
        let reply = redis::cmd("XRANGE")
            .arg(history_key(channel.as_str()))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut connection)
            .await?;
        Ok(reply)
    }

    /// The events of history entries.
    fn frames<'a>(
        &self,
        channel: &ChannelName,
        entries: impl Iterator<Item = &'a StreamId>,
    ) -> Vec<Encoded> {
        entries
            .filter_map(|entry| {
                let rest: String = entry.get("e")?;
                let payload = payload::with_id(&entry.id, &rest);
                payload::encoded(channel.as_str(), payload.as_bytes(), self.max_event)
            })
            .collect()
    }
}
