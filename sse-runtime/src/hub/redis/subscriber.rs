//! The listening side of the Redis broker: one task, one connection (in a cluster, one
//! to each node), subscribed to every channel that has local listeners.
//!
//! The fanout tells the task, in order, which channels gained their first listener and
//! which lost their last; it SUBSCRIBEs and UNSUBSCRIBEs accordingly, and delivers each
//! message pushed to it, decoded and encoded once, to the fanout. When the connection
//! drops (Redis died, or cut it off for a message larger than its pub/sub output limit;
//! in a cluster, any node's) it reconnects with backoff, subscribes again to every channel that still has
//! listeners, and delivers from history what each missed meanwhile, logging each
//! transition once, not once per client.
//!
//! The task keeps no record of its own per channel: the changes alternate for each
//! channel (a first listener, then a last leaving, ...), so the first change of a
//! channel in a round says whether it was subscribed, and each channel's queue keeps the
//! id of the last event delivered on it, from which a gap is filled and by which an
//! event delivered twice is recognised.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{AsyncPushSender, SendError};
use redis::{PushInfo, PushKind};
use tokio::sync::mpsc;

use super::server::{Connection, Server};
use super::Commands;
use crate::channel::ChannelName;
use crate::error::Error;
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
    pub(super) server: Server,
    pub(super) changes: mpsc::UnboundedReceiver<Change>,
    pub(super) fanout: Weak<Fanout>,
    pub(super) commands: Arc<Commands>,
    pub(super) max_event: usize,
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

/// Where a connection's messages go, tagged with its number.
struct Tagged(u64, mpsc::UnboundedSender<(u64, PushInfo)>);

impl AsyncPushSender for Tagged {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match info.kind {
            PushKind::Message | PushKind::SMessage | PushKind::Disconnection => {
                self.1.send((self.0, info)).map_err(|_| SendError)
            }
            // Confirmations of SUBSCRIBE and UNSUBSCRIBE, one a channel: redis-rs waits
            // for them itself, and queueing ten thousand of them only to drop them would
            // leave the memory they took scattered.
            _ => Ok(()),
        }
    }
}

impl Subscriber {
    pub(super) fn new(
        server: Server,
        changes: mpsc::UnboundedReceiver<Change>,
        fanout: Weak<Fanout>,
        commands: Arc<Commands>,
        max_event: usize,
    ) -> Subscriber {
        Subscriber {
            server,
            changes,
            fanout,
            commands,
            max_event,
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
        let lost = |error: redis::RedisError| Stop::ConnectionLost(error.to_string());
        let mut connection = match self.server.connect(Tagged(number, pushes.clone())).await {
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
        // Everything that has listeners now: the changes queued until now are in it, the
        // ones after are changes from it.
        let changes = &mut self.changes;
        let listened = fanout.channel_names_after(|| while changes.try_recv().is_ok() {});
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
                        PushKind::Message | PushKind::SMessage => {
                            let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                            if let [redis::Value::BulkString(channel), redis::Value::BulkString(payload)] = &push.data[..] {
                                let channel = String::from_utf8_lossy(channel);
                                if let Some(frame) = payload::encoded(&channel, payload, self.max_event) {
                                    fanout.deliver_once(&channel, frame);
                                }
                            }
                        }
                        PushKind::Disconnection => {
                            return Stop::ConnectionLost("the connection closed".into());
                        }
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
        connection: &mut Connection,
        fanout: &Fanout,
    ) -> redis::RedisResult<()> {
        // Per channel: whether it was subscribed (its first change is a last listener
        // leaving) and whether it is to be (its last change is a first listener).
        let mut wanted: HashMap<ChannelName, (bool, bool)> = HashMap::new();
        let mut change = Some(first);
        while let Some(next) = change.take() {
            let (channel, listen) = match next {
                Change::Listen(channel) => (channel, true),
                Change::Unlisten(channel) => (channel, false),
            };
            match wanted.entry(channel) {
                Entry::Occupied(mut seen) => seen.get_mut().1 = listen,
                Entry::Vacant(new) => {
                    new.insert((!listen, listen));
                }
            }
            if wanted.len() < BATCH {
                change = self.changes.try_recv().ok();
            }
        }
        let mut leave = Vec::new();
        let mut join = Vec::new();
        let mut still = Vec::new();
        for (channel, (was, is)) in wanted {
            match (was, is) {
                (false, true) => join.push(channel),
                (true, false) => leave.push(channel),
                // Left and joined again before this round: still subscribed, and the
                // new listeners' queue is to be told so.
                (true, true) => still.push(channel),
                (false, false) => {}
            }
        }
        if !leave.is_empty() {
            let names: Vec<&str> = leave.iter().map(ChannelName::as_str).collect();
            connection.unsubscribe(&names).await?;
        }
        let mark = self.mark();
        for channel in still {
            fanout.delivered_from(channel.as_str(), mark);
        }
        self.subscribe(connection, fanout, join).await
    }

    /// A second before now, by Redis's clock: what a channel subscribed to now is marked
    /// as delivered up to, so that a reconnection fills its gap from there (a little
    /// early rather than late: what the clients of the channel saw already is skipped by
    /// id).
    fn mark(&self) -> EventId {
        let redis_now = now_ms().saturating_add_signed(self.clock_offset);
        EventId::at_ms(redis_now.saturating_sub(1000))
    }

    /// Subscribes to `channels`, and tells their queues that they are delivered from the
    /// [`Subscriber::mark`] on (a queue that had an event already keeps its id).
    async fn subscribe(
        &mut self,
        connection: &mut Connection,
        fanout: &Fanout,
        channels: Vec<ChannelName>,
    ) -> redis::RedisResult<()> {
        let mark = self.mark();
        for batch in channels.chunks(BATCH) {
            let names: Vec<&str> = batch.iter().map(ChannelName::as_str).collect();
            connection.subscribe(&names).await?;
            for channel in batch {
                fanout.delivered_from(channel.as_str(), mark);
            }
        }
        Ok(())
    }

    /// After a reconnection: delivers from history what each channel missed meanwhile.
    async fn fill_gaps(&mut self, fanout: &Fanout) -> Result<(), Error> {
        for (channel, mut last) in fanout.delivered() {
            loop {
                let frames = self.commands.range_after(&channel, last, PAGE).await?;
                let full = frames.len() == PAGE;
                for frame in frames {
                    last = frame.id.unwrap_or(last);
                    fanout.deliver_once(channel.as_str(), frame);
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }
}
