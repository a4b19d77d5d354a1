//! A feed: several channels followed as one stream. Each channel is a [`Follow`] (its
//! history, then its live events, once and in order); the feed takes from them in turn
//! and frames each event so that a browser's `EventSource` tells the channels apart
//! and can resume all of them with one `Last-Event-ID`:
//!
//! - the event's type is its channel (`news`), or its channel, `/` and its name when it
//!   has one (`news/alert`): no channel name holds `/`;
//! - an event the hub issued carries the stream's cursor (`cursor.rs`) as its id; an
//!   event another program published carries none, and leaves the cursor where it was.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_util::future::join_all;
use tokio::time::Instant;

use super::cursor::{self, channel_hash, Cursor};
use super::encoded::Encoded;
use super::follow::{Follow, Gone, Resume, Start, READY_WAIT};
use super::id::EventId;
use super::Hub;
use crate::channel::ChannelName;

/// One channel of a feed. Its entry in the cursor is the follower's position: the id of
/// the last event of the channel the client has, or of the newest the history held when
/// it came; `ZERO` if it held none.
struct Followed {
    follow: Follow,
    hash: u32,
}

/// Several channels as one stream.
pub(crate) struct Feed {
    channels: Vec<Followed>,
    /// The channel whose live events are taken first next time, so none starves.
    turn: usize,
    /// One channel's events before they are framed.
    taken: Vec<Encoded>,
    /// The cursor, as the id of the last event framed.
    id: String,
}

impl Feed {
    /// Listens to every channel, then finds where the client is in each: from the cursor
    /// `last_event_id`, or, for a channel the cursor does not name, where its history is
    /// now. How each channel starts, in the order given.
    pub(super) async fn new(
        hub: &Hub,
        channels: Vec<ChannelName>,
        last_event_id: Option<&str>,
    ) -> (Vec<Start>, Feed) {
        let mut follows: Vec<Follow> = channels
            .into_iter()
            .map(|channel| Follow::listen(hub, channel))
            .collect();
        // Each waits for what is left of one wait: the brokers subscribe to all at once.
        let deadline = Instant::now() + READY_WAIT;
        for follow in &mut follows {
            let left = deadline.saturating_duration_since(Instant::now());
            follow
                .ready_within(left.max(Duration::from_millis(1)))
                .await;
        }
        let cursor = last_event_id.map(|last| (Cursor::parse(last), last));
        // Every channel at once: a broker that hangs costs one timeout, not one a channel.
        let mut starts = join_all(
            follows
                .iter_mut()
                .map(|follow| resume(follow, cursor.as_ref())),
        )
        .await;
        start_after_newest(hub, &mut follows, &mut starts).await;
        let mut feed = Feed {
            channels: Vec::with_capacity(follows.len()),
            turn: 0,
            taken: Vec::new(),
            id: String::new(),
        };
        let mut announced = Vec::with_capacity(starts.len());
        for (follow, start) in follows.into_iter().zip(starts) {
            let hash = channel_hash(follow.channel().as_str());
            feed.channels.push(Followed { follow, hash });
            announced.push(start);
        }
        (announced, feed)
    }

    /// The channels, in the order given.
    pub(crate) fn channels(&self) -> impl Iterator<Item = &ChannelName> {
        self.channels
            .iter()
            .map(|followed| followed.follow.channel())
    }

    /// Waits for the next events and moves up to `max` of them, framed, into `into`:
    /// what the client missed first, channel by channel, then live events from every
    /// channel in turn.
    pub(crate) async fn next(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        for index in 0..self.channels.len() {
            if !self.channels[index].follow.in_history() {
                continue;
            }
            let mut taken = std::mem::take(&mut self.taken);
            // Boxed: only a client that resumes reads history, and for a while.
            let found = Box::pin(self.channels[index].follow.take_history(&mut taken, max)).await;
            self.taken = taken;
            if found? {
                self.frame_taken(index, into);
                return Ok(());
            }
        }
        poll_fn(|cx| self.poll_live(cx, into, max)).await
    }

    fn poll_live(
        &mut self,
        cx: &mut Context<'_>,
        into: &mut Vec<Encoded>,
        max: usize,
    ) -> Poll<Result<(), Gone>> {
        let count = self.channels.len();
        let first = self.turn;
        self.turn = (self.turn + 1) % count.max(1);
        let mut found = false;
        for step in 0..count {
            let index = (first + step) % count;
            let room = max.saturating_sub(into.len());
            if room == 0 {
                break;
            }
            match self.channels[index]
                .follow
                .poll_live(cx, &mut self.taken, room)
            {
                Poll::Ready(Ok(())) => {
                    self.frame_taken(index, into);
                    found = true;
                }
                Poll::Ready(Err(gone)) => return Poll::Ready(Err(gone)),
                Poll::Pending => {}
            }
        }
        match found {
            true => Poll::Ready(Ok(())),
            false => Poll::Pending,
        }
    }

    /// Moves up to `max` more events that are queued already, framed, into `into`.
    pub(crate) fn try_more(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        for index in 0..self.channels.len() {
            let room = max.saturating_sub(into.len());
            if room == 0 {
                break;
            }
            self.channels[index]
                .follow
                .try_more(&mut self.taken, room)?;
            self.frame_taken(index, into);
        }
        Ok(())
    }

    /// How many live events are queued for this feed, all channels together.
    pub(crate) fn queued(&self) -> usize {
        self.channels
            .iter()
            .map(|followed| followed.follow.queued())
            .sum()
    }

    /// Frames the events taken from channel `index` into `into`: each names, for this
    /// channel, its own id in the cursor. Each frame is a buffer of its own, of its size,
    /// and the room the events were taken in is given back: an idle feed holds neither
    /// its largest event nor room for a burst.
    fn frame_taken(&mut self, index: usize, into: &mut Vec<Encoded>) {
        let Feed {
            channels,
            taken,
            id,
            ..
        } = self;
        for event in taken.drain(..) {
            let issued = match event.id {
                Some(issued) => {
                    id.clear();
                    let entries = channels.iter().enumerate().map(|(at, it)| {
                        let position = match at == index {
                            true => issued,
                            false => it.follow.position(),
                        };
                        (it.hash, position)
                    });
                    cursor::write(id, entries);
                    Some(id.as_str())
                }
                None => None,
            };
            let channel = channels[index].follow.channel().as_str();
            let mut out = BytesMut::new();
            frame(&mut out, channel, &event.bytes, issued);
            into.push(Encoded {
                id: event.id,
                bytes: out.freeze(),
            });
        }
        if taken.capacity() > 1 {
            *taken = Vec::new();
        }
    }
}

/// How the channel of `follow` starts for a client with `cursor` (parsed, or `None` if
/// it is no cursor, and as sent): resumed from where the cursor says, with the
/// follower's position there, or not (live, or reset).
async fn resume(follow: &mut Follow, cursor: Option<&(Option<Cursor>, &str)>) -> Start {
    match cursor {
        // Not a cursor: every channel is told to reload.
        Some((None, last)) => Start::Reset((*last).to_owned()),
        Some((Some(cursor), _)) => match cursor.position(channel_hash(follow.channel().as_str())) {
            Some(EventId::ZERO) => follow.start(Some(Resume::Beginning)).await,
            Some(id) => follow.start(Some(Resume::After(id))).await,
            // A channel the client did not follow before starts now.
            None => Start::Live,
        },
        None => Start::Live,
    }
}

/// Each channel that starts now (live, or reset) starts after the newest event its
/// history holds, which the cursor can then name: what the broker delivers of it or
/// before it is not handed out. One question to the broker for all of them; if it
/// cannot answer, the first says so and the stream ends.
async fn start_after_newest(hub: &Hub, follows: &mut [Follow], starts: &mut [Start]) {
    let now: Vec<usize> = (0..starts.len())
        .filter(|&at| matches!(starts[at], Start::Live | Start::Reset(_)))
        .collect();
    let Some(&first) = now.first() else {
        return;
    };
    let channels: Vec<&ChannelName> = now.iter().map(|&at| follows[at].channel()).collect();
    match hub.inner.broker.last_ids(&channels).await {
        Ok(newest) => {
            for (&at, newest) in now.iter().zip(newest) {
                if let Some(id) = newest {
                    follows[at].skip_up_to(id);
                }
            }
        }
        Err(error) => starts[first] = Start::Unavailable(error),
    }
}

/// Writes `event`, an event of `channel` as the hub encoded it, as a feed frames it: the
/// lines before its data keep what they hold but its name and id, then come its type
/// (the channel, and the name after `/`) and the cursor as its id, then the rest as is.
fn frame(out: &mut BytesMut, channel: &str, event: &[u8], cursor: Option<&str>) {
    let mut name: Option<&[u8]> = None;
    let mut rest = event;
    let mut kept = Vec::new();
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        if line.is_empty() || line.starts_with(b"data:") {
            break;
        }
        if let Some(value) = line.strip_prefix(b"event: ") {
            name = Some(value);
        } else if !line.starts_with(b"id: ") {
            kept.push(&rest[..=end]);
        }
        rest = &rest[end + 1..];
    }
    out.reserve(event.len() + channel.len() + cursor.map_or(0, str::len) + 16);
    for line in kept {
        out.put_slice(line);
    }
    out.put_slice(b"event: ");
    out.put_slice(channel.as_bytes());
    if let Some(name) = name {
        out.put_u8(b'/');
        out.put_slice(name);
    }
    out.put_u8(b'\n');
    if let Some(cursor) = cursor {
        out.put_slice(b"id: ");
        out.put_slice(cursor.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn framed(event: &Event, channel: &str, cursor: Option<&str>) -> String {
        let mut out = BytesMut::new();
        frame(&mut out, channel, &event.encode(), cursor);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn a_feed_names_the_channel_in_the_type_and_puts_the_cursor_in_the_id() {
        let named = Event::new().event("alert").id("1-0").data("a\nb");
        assert_eq!(
            framed(&named, "news", Some("c")),
            "event: news/alert\nid: c\ndata: a\ndata: b\n\n"
        );
        let plain = Event::new().data("hi");
        assert_eq!(
            framed(&plain, "user:7", None),
            "event: user:7\ndata: hi\n\n"
        );
        let with_comment = Event::new()
            .comment("note")
            .retry(Duration::from_secs(1))
            .data("data: event: x");
        assert_eq!(
            framed(&with_comment, "a", Some("c")),
            ":note\nretry: 1000\nevent: a\nid: c\ndata: data: event: x\n\n"
        );
    }
}
