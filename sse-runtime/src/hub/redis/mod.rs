//! The Redis broker: two connections per process, whatever the number of clients and
//! channels (in a Redis Cluster, two to each node). One listens ([`subscriber`]): Redis
//! applies its pub/sub output limit to it, and only messages travel on it. The other runs
//! commands ([`link`]): every send and every history read, so a large history read never
//! meets that limit and sends never wait behind deliveries. [`server`] holds what differs
//! between one server and a cluster, [`keys`] where each thing is kept.
//!
//! Sending runs one script (`send.lua`): `XADD` to the channel's history stream, whose
//! id becomes the event's id, trimming to the count and byte budget, then `PUBLISH` of
//! the envelope with that id. Redis runs a script atomically, so every instance sees a
//! channel's events in id order, and a client that resumes reads the same stream
//! wherever it reconnects. History is read in pages (`XRANGE ... COUNT`). In a cluster the
//! script publishes with `SPUBLISH`, on the shard that holds the channel's history.

mod keys;
mod link;
mod server;
mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::streams::{StreamId, StreamRangeReply};
use redis::RedisError;
use tokio::sync::mpsc;

use super::builder::{Redis, Settings, DEFAULT_REDIS_HISTORY_BYTES};
use super::dormant::Dormant;
use super::encoded::Encoded;
use super::fanout::Fanout;
use super::history::Page;
use super::id::EventId;
use super::presence::{self, ChannelReport};
use super::{payload, BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;
use keys::Keys;
use link::Link;
use server::Server;
use subscriber::{Change, Subscriber};

/// How long a channel's presence hash outlives the last report that named it: longer
/// than the time between two full reports.
const PRESENCE_TTL: Duration = Duration::from_secs(60);

pub(crate) struct RedisBroker {
    changes: mpsc::UnboundedSender<Change>,
    /// Started by the first listener.
    subscriber: Dormant<Subscriber>,
    commands: Arc<Commands>,
}

/// What runs on the command connection.
pub(super) struct Commands {
    link: Arc<Link>,
    keys: Keys,
    send: redis::Script,
    report: redis::Script,
    count: redis::Script,
    history: usize,
    history_bytes: usize,
    /// Seconds a history outlives its channel's last event.
    history_ttl: u64,
    max_event: usize,
    /// How many replicas must have a sent event, and how long a send waits for them.
    replica_acks: usize,
    timeout: Duration,
}

impl RedisBroker {
    pub(crate) fn new(
        fanout: &Arc<Fanout>,
        redis: &Redis,
        settings: &Settings,
    ) -> Result<Self, Error> {
        let server = Server::new(redis, settings.redis_timeout)?;
        let commands = Arc::new(Commands {
            link: Link::new(server.clone()),
            keys: server.keys(),
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
            replica_acks: settings.replica_acks,
            timeout: settings.redis_timeout,
        });
        let (changes, receiver) = mpsc::unbounded_channel();
        let subscriber = Subscriber::new(
            server,
            receiver,
            Arc::downgrade(fanout),
            commands.clone(),
            settings.max_event,
        );
        Ok(Self {
            subscriber: Dormant::new(subscriber),
            changes,
            commands,
        })
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
        self.subscriber.start("Redis", Subscriber::run);
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
        let history = self.keys.history(channel.as_str());
        let mut invocation = self.send.key(&history);
        if let Some(key) = key {
            invocation.key(self.keys.sent(channel.as_str(), key));
        }
        let sent: Result<String, RedisError> = invocation
            .arg(self.history)
            .arg(payload::encode_after_id(event))
            .arg(channel.as_str())
            .arg(self.history_ttl)
            .arg(self.history_bytes)
            .arg(payload::BEFORE_ID)
            .arg(payload::AFTER_ID)
            .arg(self.keys.publish())
            .invoke_async(&mut connection)
            .await;
        let unknown = |error: &RedisError| error.is_timeout() || error.is_connection_dropped();
        match sent {
            Ok(_) => {}
            // Written, and then no answer: Redis may have run it.
            Err(error) if unknown(&error) => return Err(Error::OutcomeUnknown(error)),
            Err(error) => return Err(Error::Redis(error)),
        }
        if self.replica_acks == 0 {
            return Ok(());
        }
        // Sent, and live clients may have it: too few replicas in time makes the outcome
        // unknown, not a failure, since the event may well survive. Redis waits half the
        // timeout, so that its answer (how many have it) comes within the other half
        // rather than the command timing out, and the connection with it.
        let wait = self.timeout / 2;
        let acked = connection
            .wait_for_replicas(&history, self.replica_acks, wait)
            .await;
        match acked {
            Ok(acked) if acked >= self.replica_acks => Ok(()),
            Ok(acked) => Err(Error::OutcomeUnknown(RedisError::from((
                redis::ErrorKind::Client,
                "too few replicas have the event",
                format!("{acked} of {} within {wait:?}", self.replica_acks),
            )))),
            Err(error) => Err(Error::OutcomeUnknown(error)),
        }
    }

    /// Records a presence report of `process`: one script, whatever the number of
    /// channels; then publishes the presence events it made, each on its channel (in a
    /// cluster a script runs on one shard, and a channel's events travel on its own).
    async fn report(&self, process: &str, changes: &[ChannelReport]) -> Result<(), Error> {
        let mut connection = self.link.connection().await?;
        let mut invocation = self.report.key(self.keys.processes());
        invocation
            .arg(process)
            .arg(presence::DEAD.as_millis() as u64)
            .arg(PRESENCE_TTL.as_secs());
        for change in changes {
            invocation
                .key(self.keys.presence(change.channel.as_str()))
                .arg(change.channel.as_str())
                .arg(change.count)
                .arg(change.members.as_deref().unwrap_or_default());
        }
        let events: Vec<(String, String)> = invocation.invoke_async(&mut connection).await?;
        if events.is_empty() {
            return Ok(());
        }
        if connection.pipelines_span_slots() {
            let mut pipe = redis::pipe();
            for (channel, event) in &events {
                pipe.cmd(self.keys.publish())
                    .arg(channel)
                    .arg(event)
                    .ignore();
            }
            let () = pipe.query_async(&mut connection).await?;
            return Ok(());
        }
        try_join_all(events.iter().map(|(channel, event)| {
            let mut connection = connection.clone();
            let mut publish = redis::cmd(self.keys.publish());
            publish.arg(channel).arg(event);
            async move { publish.query_async::<()>(&mut connection).await }
        }))
        .await?;
        Ok(())
    }

    /// How many streams listen to `channel` in every live process.
    async fn presence(&self, channel: &ChannelName) -> Result<usize, Error> {
        let mut connection = self.link.connection().await?;
        let count: usize = self
            .count
            .key(self.keys.processes())
            .key(self.keys.presence(channel.as_str()))
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
            .arg(self.keys.history(channel.as_str()))
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
    /// `XREVRANGE` a channel, as one pipeline (in a cluster, all at once, each to its
    /// shard).
    pub(super) async fn last_ids(
        &self,
        channels: &[&ChannelName],
    ) -> Result<Vec<Option<EventId>>, Error> {
        let mut connection = self.link.connection().await?;
        let newest = |channel: &ChannelName| {
            let mut newest = redis::cmd("XREVRANGE");
            newest
                .arg(self.keys.history(channel.as_str()))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
            newest
        };
        let newest: Vec<StreamRangeReply> = if connection.pipelines_span_slots() {
            let mut pipe = redis::pipe();
            for channel in channels {
                pipe.add_command(newest(channel));
            }
            pipe.query_async(&mut connection).await?
        } else {
            try_join_all(channels.iter().map(|channel| {
                let mut connection = connection.clone();
                let newest = newest(channel);
                async move { newest.query_async(&mut connection).await }
            }))
            .await?
        };
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
            .arg(self.keys.history(channel.as_str()))
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
