//! The RabbitMQ broker: one connection per process, and one stream queue that every
//! event of every channel goes through (RabbitMQ 3.9 or later).
//!
//! A stream keeps its messages, each at a position that every reader sees alike, so
//! the position is the event's id (`0-<position + 1>`): the same for every process,
//! rising within each channel, and a place to read again from. A client that resumes
//! is read the stream from its id; a process that lost its connection reads on from the
//! last position it had, so nothing falls in a gap. Each process reads the whole stream
//! and keeps what its clients listen to ([`consumer`]): RabbitMQ 3.13's stream filtering
//! would let it read less, and is not assumed.
//!
//! Where the stream ends is found without a clock: a reader publishes a marker of its
//! own and reads until the marker comes back.
//!
//! What this broker cannot give, it says (README, "Delivery guarantees"): presence counts
//! and idempotency keys are this process's own; the history is bounded in bytes and time
//! for the whole stream, not in events a channel.

mod consumer;
mod link;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;
use lapin::Confirmation;
use tokio::sync::mpsc;

use super::builder::{Amqp, Settings};
use super::dormant::Dormant;
use super::encoded::Encoded;
use super::fanout::Fanout;
use super::history::Page;
use super::id::EventId;
use super::presence::ChannelReport;
use super::sent_keys::{SentKeys, KEYS_KEPT};
use super::{embedded, payload, BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;
use consumer::Consumer;
use link::Link;

/// The header that names an event's channel.
const CHANNEL_HEADER: &str = "sse-channel";
/// The header that marks this hub's own events, whose body is the envelope after its id
/// (`payload::encode_after_id`); any other message is another program's payload, taken
/// as Redis takes one: plain text, django-sse's `[event, data]` or an `$sse` envelope,
/// live and without an id.
const ENVELOPE_HEADER: &str = "sse-envelope";
/// The header of a marker: a message that tells its reader where the stream ended.
const MARKER_HEADER: &str = "sse-marker";
/// The header RabbitMQ gives each message read from a stream: its position.
const OFFSET_HEADER: &str = "x-stream-offset";
/// How many messages a reader of the stream may have unacknowledged.
const PREFETCH: u16 = 1000;

pub(crate) struct AmqpBroker {
    link: Arc<Link>,
    fanout: Weak<Fanout>,
    /// Channels that gained their first listener, for the consumer to mark delivered.
    changes: mpsc::UnboundedSender<ChannelName>,
    /// Started by the first listener.
    consumer: Dormant<Consumer>,
    /// Where the consumer has read to: the last position plus one, 0 before any.
    position: Arc<AtomicU64>,
    /// The idempotency keys sent with.
    sent: Mutex<SentKeys>,
    timeout: Duration,
    max_event: usize,
}

impl AmqpBroker {
    pub(crate) fn new(
        fanout: &Arc<Fanout>,
        amqp: &Amqp,
        settings: &Settings,
    ) -> Result<Self, Error> {
        let link = Link::new(amqp, settings)?;
        let (changes, receiver) = mpsc::unbounded_channel();
        let position = Arc::new(AtomicU64::new(0));
        let consumer = Consumer {
            link: link.clone(),
            changes: receiver,
            fanout: Arc::downgrade(fanout),
            position: position.clone(),
            max_event: settings.max_event,
        };
        Ok(AmqpBroker {
            link,
            fanout: Arc::downgrade(fanout),
            changes,
            consumer: Dormant::new(consumer),
            position,
            sent: Mutex::new(SentKeys::new(KEYS_KEPT)),
            timeout: settings.redis_timeout,
            max_event: settings.max_event,
        })
    }

    fn sent(&self) -> MutexGuard<'_, SentKeys> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn send(
        &self,
        channel: &ChannelName,
        event: &Event,
        key: Option<&str>,
    ) -> Result<(), Error> {
        if key.is_some_and(|key| !self.sent().first_use(channel, key)) {
            return Ok(());
        }
        let sent = self.publish_confirmed(channel, event).await;
        if let (Err(Error::Amqp(_)), Some(key)) = (&sent, key) {
            // Not sent: the key may send it yet.
            self.sent().forget(channel, key);
        }
        sent
    }

    /// Publishes `event` and waits for RabbitMQ to confirm it. A connection found
    /// broken before the event was written is replaced once: nothing was sent on it.
    async fn publish_confirmed(&self, channel: &ChannelName, event: &Event) -> Result<(), Error> {
        let mut headers = FieldTable::default();
        headers.insert(
            CHANNEL_HEADER.into(),
            AMQPValue::LongString(channel.as_str().into()),
        );
        headers.insert(ENVELOPE_HEADER.into(), AMQPValue::Boolean(true));
        let properties = BasicProperties::default().with_headers(headers);
        let body = payload::encode_after_id(event);
        let mut retried = false;
        let (open, confirm) = loop {
            let open = self.link.open().await?;
            let published = open
                .publish
                .basic_publish(
                    "".into(),
                    self.link.stream().into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    properties.clone(),
                )
                .await;
            match published {
                Ok(confirm) => break (open, confirm),
                Err(error) => {
                    self.link.forget(&open);
                    if retried {
                        return Err(Error::Amqp(error.to_string()));
                    }
                    retried = true;
                }
            }
        };
        match tokio::time::timeout(self.timeout, confirm).await {
            Ok(Ok(Confirmation::Nack(_))) => Err(Error::Amqp("RabbitMQ refused the event".into())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                self.link.forget(&open);
                Err(Error::AmqpOutcomeUnknown(error.to_string()))
            }
            Err(_) => {
                // Silent: a broker that hangs, or a connection that went quiet, which
                // lapin notices only after two heartbeats (20 s). The next send opens
                // another; the old one closes once nothing uses it. So a hung broker
                // costs a connection per timeout, not one per send.
                self.link.forget(&open);
                Err(Error::AmqpOutcomeUnknown(format!(
                    "no confirmation within {:?}",
                    self.timeout
                )))
            }
        }
    }

    /// Up to `limit` events of `channel` from the stream, read from `start`: the events
    /// after position `from` if the stream still holds it, or from its first position if
    /// it never dropped one.
    async fn read(&self, channel: &ChannelName, start: Start, limit: usize) -> Result<Page, Error> {
        let open = self.link.open().await?;
        let reader = open.connection.create_channel().await.map_err(amqp)?;
        let read = self.read_on(&reader, channel, start, limit).await;
        // The reader's consumer is cancelled (in `read_on`) before its channel closes:
        // lapin cancels a consumer dropped while active on its own, and a cancel that
        // meets a closing channel fails the whole connection.
        let _ = reader.close(200, "read".into()).await;
        read
    }

    async fn read_on(
        &self,
        reader: &lapin::Channel,
        channel: &ChannelName,
        start: Start,
        limit: usize,
    ) -> Result<Page, Error> {
        reader
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await
            .map_err(amqp)?;
        let (offset, first) = match start {
            Start::After(position) => (AMQPValue::LongLongInt(position as i64), position),
            Start::First => (AMQPValue::LongString("first".into()), 0),
        };
        let mut arguments = FieldTable::default();
        arguments.insert(OFFSET_HEADER.into(), offset);
        let mut messages = reader
            .basic_consume(
                self.link.stream().into(),
                "".into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await
            .map_err(amqp)?;
        let scanned = self
            .scan(reader, &mut messages, channel, start, first, limit)
            .await;
        let _ = reader
            .basic_cancel(messages.tag(), BasicCancelOptions::default())
            .await;
        scanned
    }

    /// Reads `messages` up to a marker of its own: the events of `channel` after `start`,
    /// up to `limit`, if the first message read is at position `first`.
    async fn scan(
        &self,
        reader: &lapin::Channel,
        messages: &mut lapin::Consumer,
        channel: &ChannelName,
        start: Start,
        first: u64,
        limit: usize,
    ) -> Result<Page, Error> {
        // Where the stream ends now: a marker of this read's own, published after the
        // consumer started, comes back after every event sent before it.
        let marker = self.link.mark(reader).await?;
        let mut frames = Vec::new();
        let mut seen_first = false;
        loop {
            let next = tokio::time::timeout(self.timeout, messages.next()).await;
            let delivery = match next {
                Ok(Some(Ok(delivery))) => delivery,
                Ok(Some(Err(error))) => return Err(amqp(error)),
                Ok(None) => return Err(Error::Amqp("the stream's reader was cancelled".into())),
                Err(_) => {
                    return Err(Error::Amqp(format!(
                        "the stream did not answer within {:?}",
                        self.timeout
                    )))
                }
            };
            let message = Message::of(&delivery);
            if !seen_first {
                seen_first = true;
                // The stream dropped what the reader asked for: it cannot resume.
                if message.position != Some(first) {
                    return Ok(Page::Unknown);
                }
            }
            if message.marker.as_deref() == Some(marker.as_str()) {
                return Ok(Page::After(frames));
            }
            let Some(position) = message.position else {
                continue;
            };
            if matches!(start, Start::After(from) if position <= from) {
                continue;
            }
            // History is the hub's own events; what other programs publish is live news.
            if message.ours && message.channel.as_deref() == Some(channel.as_str()) {
                if let Some(frame) = message.frame(position, &delivery.data, self.max_event) {
                    frames.push(frame);
                }
                if frames.len() == limit {
                    return Ok(Page::After(frames));
                }
            }
        }
    }
}

/// Where a read of the stream starts.
#[derive(Clone, Copy)]
enum Start {
    /// After the event at this position, which must still be there.
    After(u64),
    /// At the first position, which must be 0.
    First,
}

/// What the headers of a message read from the stream say.
struct Message {
    position: Option<u64>,
    /// Whether this hub sent it ([`ENVELOPE_HEADER`]).
    ours: bool,
    channel: Option<String>,
    marker: Option<String>,
}

impl Message {
    fn of(delivery: &lapin::message::Delivery) -> Message {
        let headers = delivery.properties.headers().as_ref();
        let header =
            |name: &str| headers.and_then(|headers| headers.inner().get(&ShortString::from(name)));
        let text = |name: &str| match header(name) {
            Some(AMQPValue::LongString(text)) => {
                Some(String::from_utf8_lossy(text.as_bytes()).into_owned())
            }
            _ => None,
        };
        let position = match header(OFFSET_HEADER) {
            Some(AMQPValue::LongLongInt(offset)) => u64::try_from(*offset).ok(),
            _ => None,
        };
        Message {
            position,
            ours: matches!(header(ENVELOPE_HEADER), Some(AMQPValue::Boolean(true))),
            channel: text(CHANNEL_HEADER),
            marker: text(MARKER_HEADER),
        }
    }

    /// The event this message carries: the hub's own with the id of its position,
    /// another program's as its payload says, without an id.
    fn frame(&self, position: u64, body: &[u8], max_event: usize) -> Option<Encoded> {
        let channel = self.channel.as_deref()?;
        if !self.ours {
            return payload::encoded(channel, body, max_event);
        }
        let rest = String::from_utf8_lossy(body);
        let id = id_of(position).to_string();
        payload::encoded(channel, payload::with_id(&id, &rest).as_bytes(), max_event)
    }
}

/// The id of the event at `position` in the stream: `0-<position + 1>`, so that the
/// first is not `0-0`, which stands for no event.
fn id_of(position: u64) -> EventId {
    EventId::new(0, position.saturating_add(1))
}

/// The position of the event with id `id`, if it is one this broker issued.
fn position_of(id: EventId) -> Option<u64> {
    let (ms, seq) = id.parts();
    (ms == 0).then(|| seq.checked_sub(1)).flatten()
}

fn amqp(error: lapin::Error) -> Error {
    Error::Amqp(error.to_string())
}

impl Broker for AmqpBroker {
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.send(channel, event, key))
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        from: EventId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        Box::pin(async move {
            match position_of(from) {
                Some(position) => self.read(channel, Start::After(position), limit).await,
                None => Ok(Page::Unknown),
            }
        })
    }

    fn history_from_beginning<'a>(
        &'a self,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        Box::pin(self.read(channel, Start::First, limit))
    }

    /// Where the consumer has read to, for every channel: an event of any channel at or
    /// before it was sent before now, and one after it comes live.
    fn last_ids<'a>(
        &'a self,
        channels: &'a [&'a ChannelName],
    ) -> BoxFuture<'a, Result<Vec<Option<EventId>>, Error>> {
        let read = self.position.load(Ordering::SeqCst);
        let last = read.checked_sub(1).map(id_of);
        Box::pin(std::future::ready(Ok(vec![last; channels.len()])))
    }

    fn report<'a>(
        &'a self,
        _: &'a str,
        changes: &'a [ChannelReport],
    ) -> BoxFuture<'a, Result<(), Error>> {
        // This process's own: RabbitMQ keeps no count that every process could share.
        if let Some(fanout) = self.fanout.upgrade() {
            embedded::report_here(&fanout, changes);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn presence<'a>(&'a self, _: &'a ChannelName) -> BoxFuture<'a, Result<Option<usize>, Error>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn listen(&self, channel: &ChannelName) -> bool {
        self.consumer.start("RabbitMQ", Consumer::run);
        let _ = self.changes.send(channel.clone());
        false
    }

    fn unlisten(&self, _: &ChannelName) {}
}
