//! Following a channel: what a client missed, from history, then the live events, each
//! once and in order. The one place that listens, reads history and skips what was seen,
//! so that a channel view only batches and writes.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::encoded::Encoded;
use super::history::Page;
use super::id::EventId;
use super::queue::{Ended, Place, Queue};
use super::Hub;
use crate::channel::ChannelName;
use crate::error::Error;

/// How long a new listener waits for the broker to deliver its channel before it
/// follows anyway (it then receives events once the broker is back).
pub(super) const READY_WAIT: Duration = Duration::from_secs(2);

/// How many events of history are read at once: a resume over a large history is read
/// in pages as the client takes them, so no reply is large.
pub(crate) const PAGE: usize = 100;

/// One listener of one channel: its place in the channel's queue. Dropping it leaves.
pub(crate) struct Subscription {
    queue: Arc<Queue>,
    place: Place,
    hub: Hub,
}

impl Subscription {
    pub(super) fn new(hub: &Hub, channel: ChannelName) -> Subscription {
        let (queue, place) = hub.inner.fanout.join(&channel, &*hub.inner.broker);
        Subscription {
            queue,
            place,
            hub: hub.clone(),
        }
    }

    /// Moves up to `max` events already queued into `into`.
    fn try_recv(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Ended> {
        match self.queue.poll_read(&mut self.place, None, into, max) {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(()),
        }
    }

    /// Waits until the broker delivers the channel, for at most `limit`.
    async fn ready_within(&mut self, limit: Duration) -> bool {
        let ready = poll_fn(|cx| match self.queue.poll_ready(&mut self.place, cx) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        });
        tokio::time::timeout(limit, ready).await.is_ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let hub = &self.hub;
        hub.inner
            .fanout
            .leave(&self.queue, &self.place, &*hub.inner.broker);
    }
}

/// Where a client resumes a channel from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// After the event with this id, which the history must still hold.
    After(EventId),
    /// From the channel's first event: the channel had none held when the client came,
    /// so everything it has had since is new to the client, if the history dropped none.
    Beginning,
}

impl std::fmt::Display for Resume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resume::After(id) => id.fmt(f),
            Resume::Beginning => EventId::ZERO.fmt(f),
        }
    }
}

/// How a follower started.
#[derive(Debug)]
pub(crate) enum Start {
    /// From now on: a first connection.
    Live,
    /// From the id it gave, which the history holds.
    Resumed,
    /// The id it gave is not in the history (older than what is kept, or never issued
    /// by the hub): it must reload, and follows from now on.
    Reset(String),
    /// The history cannot be read now (Redis is down): it should come back later.
    Unavailable(Error),
}

/// A client's view of a channel: history pages, then live events.
pub(crate) struct Follow {
    subscription: Subscription,
    /// History still to hand out, while there is any: boxed, as a stream spends most of
    /// its life without.
    backlog: Option<Box<Backlog>>,
    /// The id of the last event the hub issued that was handed out, or where the client
    /// resumed from or started after; `ZERO` before any.
    seen: EventId,
}

/// History read and not handed out yet, and whether more is to be read after it.
struct Backlog {
    frames: Vec<Encoded>,
    more: bool,
}

impl Follow {
    /// Listens to `channel` first, then reads the history after `last_event_id`: an
    /// event sent in between comes both ways, and its id tells the copy to skip.
    pub(super) async fn new(
        hub: &Hub,
        channel: ChannelName,
        last_event_id: Option<&str>,
    ) -> (Start, Follow) {
        let mut follow = Follow::listen(hub, channel);
        follow.subscription.ready_within(READY_WAIT).await;
        let from = match last_event_id {
            None => None,
            Some(last) => match last.parse::<EventId>() {
                Ok(id) => Some(Resume::After(id)),
                Err(()) => return (Start::Reset(last.to_owned()), follow),
            },
        };
        let start = follow.start(from).await;
        (start, follow)
    }

    /// Listens to `channel`, without waiting for the broker to deliver it yet.
    pub(super) fn listen(hub: &Hub, channel: ChannelName) -> Follow {
        Follow {
            subscription: Subscription::new(hub, channel),
            backlog: None,
            seen: EventId::ZERO,
        }
    }

    /// Waits until the broker delivers the channel, for at most `limit`.
    pub(super) async fn ready_within(&mut self, limit: Duration) -> bool {
        self.subscription.ready_within(limit).await
    }

    /// Reads the history the client missed, if it resumes `from` somewhere.
    pub(super) async fn start(&mut self, from: Option<Resume>) -> Start {
        let Some(from) = from else {
            return Start::Live;
        };
        let read = match from {
            Resume::After(id) => self.read_history(id).await,
            Resume::Beginning => self.read_from_beginning().await,
        };
        match read {
            Ok(true) => Start::Resumed,
            Ok(false) => Start::Reset(from.to_string()),
            Err(error) => Start::Unavailable(error),
        }
    }

    /// Hands out only events issued after `id` from now on.
    pub(super) fn skip_up_to(&mut self, id: EventId) {
        self.seen = id;
    }

    /// The id of the last event the hub issued that was handed out, or where the client
    /// resumed from or started after; `ZERO` before any.
    pub(super) fn position(&self) -> EventId {
        self.seen
    }

    /// The channel followed.
    pub(super) fn channel(&self) -> &ChannelName {
        self.subscription.queue.channel()
    }

    /// Reads the first page of the whole history, if the history still holds every event
    /// the channel has had; false if it dropped some.
    async fn read_from_beginning(&mut self) -> Result<bool, Error> {
        let hub = &self.subscription.hub;
        let page = hub
            .inner
            .broker
            .history_from_beginning(self.subscription.queue.channel(), PAGE)
            .await?;
        Ok(self.take_page(EventId::ZERO, page))
    }

    /// Reads the page of history after `from` into the backlog; false if `from` is not
    /// held.
    async fn read_history(&mut self, from: EventId) -> Result<bool, Error> {
        let hub = &self.subscription.hub;
        let page = hub
            .inner
            .broker
            .history(self.subscription.queue.channel(), from, PAGE)
            .await?;
        Ok(self.take_page(from, page))
    }

    /// Keeps a page of history read after `from` as the backlog; false if `from` is not
    /// held.
    fn take_page(&mut self, from: EventId, page: Page) -> bool {
        match page {
            Page::After(frames) => {
                self.seen = from;
                let more = frames.len() == PAGE;
                self.backlog =
                    (more || !frames.is_empty()).then(|| Box::new(Backlog { frames, more }));
                true
            }
            Page::Unknown => false,
        }
    }

    /// Waits for the next events and moves up to `max` of them into `into`, oldest first.
    pub(crate) async fn next(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        // Boxed: only a client that resumes reads history, and for a while.
        if self.backlog.is_some() && Box::pin(self.take_history(into, max)).await? {
            return Ok(());
        }
        poll_fn(|cx| self.poll_live(cx, into, max)).await
    }

    /// Whether history is still to be handed out before the live events.
    pub(super) fn in_history(&self) -> bool {
        self.backlog.is_some()
    }

    /// Moves up to `max` events of history into `into`, reading the next page when the
    /// last is handed out; false once the history is done.
    pub(super) async fn take_history(
        &mut self,
        into: &mut Vec<Encoded>,
        max: usize,
    ) -> Result<bool, Gone> {
        if self
            .backlog
            .as_ref()
            .is_some_and(|backlog| backlog.frames.is_empty())
        {
            let from = self.seen;
            // The history moved past the client meanwhile: it reconnects with its last
            // id and is told to reload.
            if !self.read_history(from).await.map_err(Gone::History)? {
                return Err(Gone::Trimmed);
            }
        }
        let Some(backlog) = &mut self.backlog else {
            return Ok(false);
        };
        let take = backlog.frames.len().min(max);
        into.extend(backlog.frames.drain(..take));
        if backlog.frames.is_empty() && !backlog.more {
            self.backlog = None;
        }
        self.seen = into
            .iter()
            .rev()
            .find_map(|frame| frame.id)
            .unwrap_or(self.seen);
        Ok(true)
    }

    /// Live events: ready once at least one not seen yet is moved into `into`.
    pub(super) fn poll_live(
        &mut self,
        cx: &mut Context<'_>,
        into: &mut Vec<Encoded>,
        max: usize,
    ) -> Poll<Result<(), Gone>> {
        loop {
            let from = into.len();
            let subscription = &mut self.subscription;
            match subscription
                .queue
                .poll_read(&mut subscription.place, Some(cx), into, max)
            {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ended)) => return Poll::Ready(Err(Gone::Ended(ended))),
                Poll::Ready(Ok(())) => {
                    self.skip_seen(from, into);
                    if into.len() > from {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }

    /// Moves up to `max` more events that are queued already into `into`.
    pub(crate) fn try_more(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        if self.in_history() {
            return Ok(());
        }
        let from = into.len();
        self.subscription.try_recv(into, max).map_err(Gone::Ended)?;
        self.skip_seen(from, into);
        Ok(())
    }

    /// How many live events are queued for this follower.
    pub(crate) fn queued(&self) -> usize {
        self.subscription.queue.queued(&self.subscription.place)
    }

    /// Drops from `into[from..]` the events issued no later than the last one handed
    /// out: copies of what history gave. Events without an id (published by other
    /// programs) always pass, and never move the mark.
    fn skip_seen(&mut self, from: usize, into: &mut Vec<Encoded>) {
        let mut at = from;
        for index in from..into.len() {
            let keep = match into[index].id {
                Some(id) if id <= self.seen => false,
                Some(id) => {
                    self.seen = id;
                    true
                }
                None => true,
            };
            if keep {
                into.swap(at, index);
                at += 1;
            }
        }
        into.truncate(at);
    }
}

/// Why a follower gets no more events; it reconnects and resumes from its last id.
#[derive(Debug)]
pub(crate) enum Gone {
    /// It fell too far behind the live events.
    Ended(Ended),
    /// The history it was reading was trimmed past it.
    Trimmed,
    /// The history could not be read.
    History(Error),
}

impl Gone {
    /// Whether the client was cut off for falling behind.
    pub(crate) fn fell_behind(&self) -> bool {
        matches!(self, Gone::Ended(Ended::Lagged(_)))
    }
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gone::Ended(Ended::Lagged(missed)) => {
                write!(
                    f,
                    "the client fell {missed} events behind its queue and was cut off"
                )
            }
            Gone::Trimmed => {
                f.write_str("the history was trimmed past the client while it read it")
            }
            Gone::History(error) => write!(f, "the history cannot be read: {error}"),
        }
    }
}
