//! The listening side of the Redis broker: one task, one connection, subscribed to
//! every channel that has local listeners.
//!
//! The fanout tells the task, in order, which channels gained their first listener and
//! which lost their last; it SUBSCRIBEs and UNSUBSCRIBEs accordingly, and delivers each
//! message pushed to it, decoded and encoded once, to the fanout. When the connection
//! drops (Redis died, or cut it off for a message larger than its pub/sub output limit)
//! it reconnects with backoff, subscribes again to every channel that still has
//! listeners, and delivers from history what each missed meanwhile, logging each
//! transition once, not once per client.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::Commands;
use crate::channel::ChannelName;
use crate::error::Error;
use crate::hub::encoded::Encoded;
use crate::hub::fanout::Fanout;
use crate::hub::follow::PAGE;
use crate::hub::id::{now_ms, EventId};
use crate::hub::payload;

/// A change of what the process listens to.
pub(super) enum Change {
    Listen(ChannelName),
    Unlisten(ChannelName),
}

/// The task that listens.
pub(super) struct Subscriber {
    pub(super) client: redis::Client,
    pub(super) config: AsyncConnectionConfig,
    pub(super) changes: mpsc::UnboundedReceiver<Change>,
    pub(super) fanout: Weak<Fanout>,
    pub(super) commands: Arc<Commands>,
    pub(super) max_event: usize,
    /// The id of the last event the hub issued that was delivered on each channel with
    /// listeners, or, before the first, one from just before the channel was subscribed
    /// to: where to fill the gap from after a reconnection, and what not to deliver
    /// twice.
    delivered: HashMap<ChannelName, EventId>,
    /// Redis's clock minus this process's, in milliseconds, as read on connecting.
    clock_offset: i64,
    /// How many connections were opened: pushes are tagged with their connection's
    /// number, so that one from a connection already replaced is not taken for one of
    /// the current connection.
    opened: u64,
}

/// The most channels one SUBSCRIBE or UNSUBSCRIBE names.
const BATCH: usize = 1000;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

enum Stop {
    HubGone,
    ConnectionLost(String),
}

/// Where a connection's pushes go, tagged with its number.
struct Tagged(u64, mpsc::UnboundedSender<(u64, PushInfo)>);

impl AsyncPushSender for Tagged {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        self.1.send((self.0, info)).map_err(|_| SendError)
    }
}

impl Subscriber {
    pub(super) fn new(
        client: redis::Client,
        config: AsyncConnectionConfig,
        changes: mpsc::UnboundedReceiver<Change>,
        fanout: Weak<Fanout>,
        commands: Arc<Commands>,
        max_event: usize,
    ) -> Subscriber {
        Subscriber {
            client,
            config,
            changes,
            fanout,
            commands,
            max_event,
            delivered: HashMap::new(),
            clock_offset: 0,
            opened: 0,
        }
    }

    pub(super) async fn run(mut self) {
        let (pushes, mut pushed) = mpsc::unbounded_channel();
        let mut retry = FIRST_RETRY;
        let mut down = false;
        loop {
            match self
                .connect_and_serve(&pushes, &mut pushed, &mut down, &mut retry)
                .await
            {
                Stop::HubGone => return,
                Stop::ConnectionLost(error) => {
                    if let Some(fanout) = self.fanout.upgrade() {
                        fanout.set_none_ready();
                    }
                    if !down {
                        tracing::warn!(%error, "lost the Redis subscriber connection; reconnecting with backoff");
                        crate::telemetry::broker(false);
                        down = true;
                    }
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    async fn connect_and_serve(
        &mut self,
        pushes: &mpsc::UnboundedSender<(u64, PushInfo)>,
        pushed: &mut mpsc::UnboundedReceiver<(u64, PushInfo)>,
        down: &mut bool,
        retry: &mut Duration,
    ) -> Stop {
        self.opened += 1;
        let number = self.opened;
        let config = self
            .config
            .clone()
            .set_push_sender(Tagged(number, pushes.clone()));
        let lost = |error: redis::RedisError| Stop::ConnectionLost(error.to_string());
        let mut connection = match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => connection,
            Err(error) => return lost(error),
        };
        match redis::cmd("TIME")
            .query_async::<(u64, u64)>(&mut connection)
            .await
        {
            Ok((seconds, micros)) => {
                let redis_ms = seconds * 1000 + micros / 1000;
                self.clock_offset = redis_ms as i64 - now_ms() as i64;
            }
            Err(error) => return lost(error),
        }
        let Some(fanout) = self.fanout.upgrade() else {
            return Stop::HubGone;
        };
        // Everything that has listeners now; changes queued meanwhile are applied after,
        // in order, and subscribing twice is harmless.
        let listened = fanout.channel_names();
        if let Err(error) = self.subscribe(&mut connection, &fanout, listened).await {
            return lost(error);
        }
        if let Err(error) = self.fill_gaps(&fanout).await {
            return Stop::ConnectionLost(error.to_string());
        }
        drop(fanout);
        if *down {
            tracing::info!("the Redis subscriber connection is back; channels resubscribed");
            *down = false;
        }
        crate::telemetry::broker(true);
        *retry = FIRST_RETRY;
        loop {
            tokio::select! {
                change = self.changes.recv() => {
                    let Some(change) = change else { return Stop::HubGone };
                    let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                    if let Err(error) = self.apply_changes(change, &mut connection, &fanout).await {
                        return lost(error);
                    }
                }
                push = pushed.recv() => {
                    let Some((from, push)) = push else { return Stop::HubGone };
                    if from != number {
                        continue;
                    }
                    match push.kind {
                        PushKind::Message => {
                            let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                            if let [redis::Value::BulkString(channel), redis::Value::BulkString(payload)] = &push.data[..] {
                                let channel = String::from_utf8_lossy(channel);
                                if let Some(frame) = payload::encoded(&channel, payload, self.max_event) {
                                    self.deliver(&fanout, &channel, frame);
                                }
                            }
                        }
                        PushKind::Disconnection => {
                            return Stop::ConnectionLost("the connection closed".into());
                        }
                        // Confirmations of SUBSCRIBE and UNSUBSCRIBE.
                        _ => {}
                    }
                }
            }
        }
    }

    /// Applies `first` and every change queued after it, as one UNSUBSCRIBE and one
    /// SUBSCRIBE of many channels: clients that come and go by the thousand cost a few
    /// commands, and a channel left and joined again in between costs none.
    async fn apply_changes(
        &mut self,
        first: Change,
        connection: &mut MultiplexedConnection,
        fanout: &Fanout,
    ) -> redis::RedisResult<()> {
        // The last change of each channel decides; `delivered` holds what Redis has.
        let mut wanted: HashMap<ChannelName, bool> = HashMap::new();
        let mut change = Some(first);
        while let Some(next) = change.take() {
            match next {
                Change::Listen(channel) => wanted.insert(channel, true),
                Change::Unlisten(channel) => wanted.insert(channel, false),
            };
            if wanted.len() < BATCH {
                change = self.changes.try_recv().ok();
            }
        }
        let mut leave = Vec::new();
        let mut join = Vec::new();
        for (channel, listen) in wanted {
            match (listen, self.delivered.contains_key(&channel)) {
                (true, false) => join.push(channel),
                (false, true) => {
                    self.delivered.remove(&channel);
                    leave.push(channel);
                }
                // Left and joined again before this round: still subscribed, and the
                // new listeners' queue is to be told so.
                (true, true) => fanout.set_ready(channel.as_str(), true),
                (false, false) => {}
            }
        }
        if !leave.is_empty() {
            let names: Vec<&str> = leave.iter().map(ChannelName::as_str).collect();
            connection.unsubscribe(names).await?;
        }
        self.subscribe(connection, fanout, join).await
    }

    /// Subscribes to `channels`; a channel new to the task is marked as delivered up to
    /// a second before now, by Redis's clock, so that a reconnection fills its gap from
    /// there (a little early rather than late: what the clients of the channel saw
    /// already is skipped by id).
    async fn subscribe(
        &mut self,
        connection: &mut MultiplexedConnection,
        fanout: &Fanout,
        channels: Vec<ChannelName>,
    ) -> redis::RedisResult<()> {
        let redis_now = now_ms().saturating_add_signed(self.clock_offset);
        let mark = EventId::at_ms(redis_now.saturating_sub(1000));
        for batch in channels.chunks(BATCH) {
            for channel in batch {
                self.delivered.entry(channel.clone()).or_insert(mark);
            }
            let names: Vec<&str> = batch.iter().map(ChannelName::as_str).collect();
            connection.subscribe(names).await?;
            for channel in batch {
                fanout.set_ready(channel.as_str(), true);
            }
        }
        Ok(())
    }

    /// Delivers `frame` unless the hub issued it no later than the last event delivered
    /// on `channel`. Events of other programs have no id of the hub's: they are always
    /// delivered and never move the mark.
    fn deliver(&mut self, fanout: &Fanout, channel: &str, frame: Encoded) {
        if let Some(id) = frame.id {
            match self.delivered.get_mut(channel) {
                Some(last) if *last >= id => return,
                Some(last) => *last = id,
                // Not listened to any more: its clients are gone.
                None => return,
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
        for (channel, mut last) in missed {
            loop {
                let frames = self.commands.range_after(&channel, last, PAGE).await?;
                let full = frames.len() == PAGE;
                for frame in frames {
                    last = frame.id.unwrap_or(last);
                    self.deliver(fanout, channel.as_str(), frame);
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }
}
