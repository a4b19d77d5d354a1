//! The live side of the RabbitMQ broker: one task that reads the stream from where it
//! stood when the first client listened, and hands each event to the local listeners
//! of its channel. When the connection is lost it opens another and reads on from the
//! position after the last one it read: the stream kept everything meanwhile, so there
//! is no gap to fill and nothing comes twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::mpsc;

use super::link::Link;
use super::{id_of, Message, OFFSET_HEADER, PREFETCH};
use crate::channel::ChannelName;
use crate::hub::fanout::Fanout;
use crate::hub::id::EventId;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The task that reads the stream.
pub(super) struct Consumer {
    pub(super) link: Arc<Link>,
    pub(super) changes: mpsc::UnboundedReceiver<ChannelName>,
    pub(super) fanout: Weak<Fanout>,
    /// The last position read plus one, 0 before any: shared with the broker.
    pub(super) position: Arc<AtomicU64>,
    pub(super) max_event: usize,
}

enum Stop {
    HubGone,
    Lost(String),
}

impl Consumer {
    pub(super) async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        let mut down = false;
        loop {
            match self.consume(&mut down, &mut retry).await {
                Stop::HubGone => return,
                Stop::Lost(error) => {
                    if let Some(fanout) = self.fanout.upgrade() {
                        fanout.set_none_ready();
                    }
                    if !down {
                        tracing::warn!(%error, "lost the RabbitMQ stream; reading on from where it stopped, with backoff");
                        crate::telemetry::broker(false);
                        down = true;
                    }
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    /// Where to mark a channel delivered from: the last position read, or nothing yet
    /// (everything this task reads is new).
    fn mark(&self) -> EventId {
        match self.position.load(Ordering::SeqCst) {
            0 => EventId::ZERO,
            read => id_of(read - 1),
        }
    }

    async fn consume(&mut self, down: &mut bool, retry: &mut Duration) -> Stop {
        let open = match self.link.open().await {
            Ok(open) => open,
            Err(error) => return Stop::Lost(error.to_string()),
        };
        let lost = |error: lapin::Error| Stop::Lost(error.to_string());
        let channel = match open.connection.create_channel().await {
            Ok(channel) => channel,
            Err(error) => return lost(error),
        };
        if let Err(error) = channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await
        {
            return lost(error);
        }
        let from = match self.position.load(Ordering::SeqCst) {
            0 => AMQPValue::LongString("next".into()),
            read => AMQPValue::LongLongInt(read as i64),
        };
        let mut arguments = FieldTable::default();
        arguments.insert(OFFSET_HEADER.into(), from);
        let consumed = channel
            .basic_consume(
                self.link.stream().into(),
                "".into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await;
        let mut messages = match consumed {
            Ok(messages) => messages,
            Err(error) => return lost(error),
        };
        // Read up to a marker of its own before telling anyone it delivers: then the
        // position is known (a feed names it in its cursor), and after a reconnection
        // what was missed is handed out before new listeners start.
        let marker = match self.link.mark(&channel).await {
            Ok(marker) => marker,
            Err(error) => return Stop::Lost(error.to_string()),
        };
        loop {
            let delivery = match messages.next().await {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => return lost(error),
                None => return Stop::Lost("the stream's consumer was cancelled".into()),
            };
            let mine = Message::of(&delivery).marker.as_deref() == Some(marker.as_str());
            if let Err(stop) = self.take(delivery).await {
                return stop;
            }
            if mine {
                break;
            }
        }
        let Some(fanout) = self.fanout.upgrade() else {
            return Stop::HubGone;
        };
        // Every channel listened to now is delivered from here on; those that gain their
        // first listener later are told as they come.
        let changes = &mut self.changes;
        let listened = fanout.channel_names_after(|| while changes.try_recv().is_ok() {});
        let mark = self.mark();
        for channel in listened {
            fanout.delivered_from(channel.as_str(), mark);
        }
        drop(fanout);
        if *down {
            tracing::info!("the RabbitMQ stream is back; reading on");
            *down = false;
        }
        crate::telemetry::broker(true);
        *retry = FIRST_RETRY;
        loop {
            tokio::select! {
                change = self.changes.recv() => {
                    let Some(channel) = change else { return Stop::HubGone };
                    let Some(fanout) = self.fanout.upgrade() else { return Stop::HubGone };
                    fanout.delivered_from(channel.as_str(), self.mark());
                }
                delivery = messages.next() => {
                    let delivery = match delivery {
                        Some(Ok(delivery)) => delivery,
                        Some(Err(error)) => return lost(error),
                        None => return Stop::Lost("the stream's consumer was cancelled".into()),
                    };
                    if let Err(stop) = self.take(delivery).await {
                        return stop;
                    }
                }
            }
        }
    }

    /// Hands the event `delivery` carries to the listeners of its channel, and moves
    /// the position past it.
    async fn take(&self, delivery: lapin::message::Delivery) -> Result<(), Stop> {
        let message = Message::of(&delivery);
        if let Some(position) = message.position {
            let fanout = self.fanout.upgrade().ok_or(Stop::HubGone)?;
            if let Some(channel) = message.channel.as_deref() {
                if let Some(frame) = message.frame(position, &delivery.data, self.max_event) {
                    fanout.deliver_once(channel, frame);
                }
            }
            self.position.store(position + 1, Ordering::SeqCst);
        }
        match delivery.ack(BasicAckOptions::default()).await {
            Ok(_) => Ok(()),
            Err(error) => Err(Stop::Lost(error.to_string())),
        }
    }
}
