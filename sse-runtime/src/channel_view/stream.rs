//! The stream of one client of a channel view: the hub's follower decides what comes,
//! in order and once; this batches it into writes.

use std::time::Duration;

use axum::response::Response;
use bytes::BytesMut;
use tokio::time::Instant;

use super::Checked;
use crate::buffer::Sse;
use crate::channel::ChannelName;
use crate::event::Event;
use crate::generator::Generator;
use crate::hub::{Encoded, Feed, Follow, Gone, Hub, Start};
use crate::response::SseResponse;
use crate::streams::Registration;
use crate::telemetry;

/// The event a client gets when it resumes from an id the history does not hold: it
/// must reload whatever it built from the events, then it gets the live stream.
pub const RESET_EVENT: &str = "sse-reset";

/// Streams the channels of a request to one client: what it missed since
/// `last_event_id`, then every event sent to them, each once and in order. The hub
/// decides what comes; this batches and writes.
pub(super) async fn stream_channel(
    registration: Registration,
    hub: Hub,
    channels: Checked,
    last_event_id: Option<String>,
    view: &'static str,
    presence: bool,
    options: SseResponse<()>,
) -> Response {
    let last = last_event_id.as_deref();
    let Checked {
        mut names,
        feed,
        member,
    } = channels;
    let announced = presence.then(|| names.clone());
    // A single channel's view has one name; a feed may have one too.
    let (starts, mut follow) = match names.pop() {
        Some(channel) if !feed && names.is_empty() => {
            let (start, follow) = hub.follow(channel, last).await;
            (vec![(None, start)], Following::One(follow))
        }
        last_name => {
            names.extend(last_name);
            let (starts, feed) = hub.feed(names, last).await;
            let names = feed.channels().cloned().map(Some);
            (names.zip(starts).collect(), Following::Many(feed))
        }
    };
    // Announced from when it listens until the stream ends.
    let membership = announced.map(|channels| hub.announce(channels, member));
    let frames = Generator::new(view, move |mut sse| async move {
        let _membership = membership;
        for (channel, start) in starts {
            // Boxed: once at the start, it takes no room in the stream for its life.
            if !Box::pin(announce(&mut sse, view, channel.as_ref(), start)).await {
                return;
            }
        }
        let gone = |gone: Gone| {
            if gone.fell_behind() {
                telemetry::cut_off();
            }
            tracing::debug!(view, %gone, "a channel stream ended; the client resumes from its last id");
        };
        let mut batch = Vec::new();
        // Until when the stream counts as busy: `BUSY` after its last write.
        let mut busy_until = Instant::now();
        loop {
            if let Err(ended) = follow.next(&mut batch, BATCH).await {
                return gone(ended);
            }
            // A busy stream lets the scheduler go round a few times before it writes,
            // so that a burst goes out in one write rather than a system call per event.
            let now = Instant::now();
            if now < busy_until {
                for _ in 0..GATHER_ROUNDS {
                    if batch.len() + follow.queued() >= BATCH {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                let room = BATCH - batch.len();
                if let Err(ended) = follow.try_more(&mut batch, room) {
                    return gone(ended);
                }
            }
            busy_until = now + BUSY;
            telemetry::delivered(batch.len() as u64);
            let frame = match &batch[..] {
                // A lone event goes out without a copy.
                [one] => one.bytes.clone(),
                // Several, copied once into a frame of their exact size, which is the
                // stream's only while it is written.
                frames => {
                    let size = frames.iter().map(|frame| frame.bytes.len()).sum();
                    let mut joined = BytesMut::with_capacity(size);
                    for frame in frames {
                        joined.extend_from_slice(&frame.bytes);
                    }
                    joined.freeze()
                }
            };
            sse.send_encoded(frame).await;
            // An idle stream holds no event, nor room for a burst.
            batch.clear();
            if batch.capacity() > 1 {
                batch = Vec::new();
            }
        }
    });
    options
        .with_frames(frames)
        .into_registered_response(registration)
}

/// Tells the client how `channel` (`None`: the one channel of a single-channel view)
/// starts; false if the stream cannot.
async fn announce(
    sse: &mut Sse,
    view: &'static str,
    channel: Option<&ChannelName>,
    start: Start,
) -> bool {
    match start {
        Start::Live => {}
        Start::Resumed => telemetry::resumed(true),
        Start::Reset(last) => {
            telemetry::resumed(false);
            let reset = match channel {
                None => Event::new().event(RESET_EVENT).data(format!(
                    "the events after {last:.64} are no longer kept: reload, then follow the live stream"
                )),
                Some(channel) => Event::new()
                    .event(format!("{channel}/{RESET_EVENT}"))
                    .data(format!(
                        "the events of {channel} after {last:.64} are no longer kept: reload it, then follow the live stream"
                    )),
            };
            sse.send(&reset).await;
        }
        Start::Unavailable(error) => {
            // Ending the stream makes the client reconnect and ask again.
            tracing::warn!(view, %error, "cannot read the history a client resumes from");
            return false;
        }
    }
    true
}

/// One channel, or several as a feed.
enum Following {
    One(Follow),
    Many(Feed),
}

impl Following {
    async fn next(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        match self {
            Following::One(follow) => follow.next(into, max).await,
            Following::Many(feed) => feed.next(into, max).await,
        }
    }

    fn try_more(&mut self, into: &mut Vec<Encoded>, max: usize) -> Result<(), Gone> {
        match self {
            Following::One(follow) => follow.try_more(into, max),
            Following::Many(feed) => feed.try_more(into, max),
        }
    }

    fn queued(&self) -> usize {
        match self {
            Following::One(follow) => follow.queued(),
            Following::Many(feed) => feed.queued(),
        }
    }
}

/// The most events written together when a client has several queued.
const BATCH: usize = 64;

/// A stream that wrote less than this long ago is busy: before its next write it
/// yields to the scheduler up to `GATHER_ROUNDS` times (fewer if `BATCH` events are
/// queued), letting the senders run, so that a burst goes out in a few writes. A stream
/// idle for longer writes its next event at once. (Yielding rather than sleeping: a
/// timer's millisecond would let a fast sender fill the queue.)
const BUSY: Duration = Duration::from_millis(1);
const GATHER_ROUNDS: usize = 8;
