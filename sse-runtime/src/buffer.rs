//! The seed's `sse` object: a buffer a view fills with events and flushes to its client.
//!
//! django-sse flushed the buffer at each `yield` of a generator. Here the flush is an
//! `.await` on [`Sse::flush`]: it hands everything buffered to the response as one body
//! frame and resumes once the response has taken it. Because it is an ordinary method,
//! the body of a view is ordinary async Rust: `?`, `return`, `select!` and helper
//! functions that take `&mut Sse` all work as they do anywhere else.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::event::{encode_message, Event};
use crate::telemetry;

/// The buffer of one client's stream, handed to a view as `sse: &mut Sse`.
///
/// Messages added to it go out together, as one write, at the next
/// [`flush`](Sse::flush). What is still buffered when the view returns goes out too.
#[derive(Debug)]
pub struct Sse {
    buffer: BytesMut,
    outbox: Outbox,
    /// Events buffered since the last hand-over, for `sse_events_delivered_total`.
    events: u32,
}

/// Where a flushed frame waits for the response to take it.
///
/// The view's future and the response that polls it both hold one; they never run at
/// the same time, so the lock is never contended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outbox(Arc<Mutex<Option<Bytes>>>);

impl Outbox {
    fn with<T>(&self, f: impl FnOnce(&mut Option<Bytes>) -> T) -> T {
        // A panic while the lock was held cannot leave the slot half-written.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn put(&self, frame: Bytes) {
        self.with(|slot| {
            *slot = Some(match slot.take() {
                // Only if a flush future was dropped before its frame was taken.
                Some(earlier) => [earlier, frame].concat().into(),
                None => frame,
            })
        });
    }

    /// The frame a flush handed over, if one waits.
    pub(crate) fn take(&self) -> Option<Bytes> {
        self.with(Option::take)
    }

    fn is_empty(&self) -> bool {
        self.with(|slot| slot.is_none())
    }
}

impl Sse {
    /// A buffer whose flushes land in `outbox`.
    pub(crate) fn new(outbox: Outbox) -> Self {
        Self {
            buffer: BytesMut::new(),
            outbox,
            events: 0,
        }
    }

    /// Buffers an event with a name and data, as the seed's `add_message(event, data)`.
    ///
    /// # Panics
    ///
    /// If `event` holds CR or LF. Use [`try_add_message`](Sse::try_add_message) for names
    /// that come from outside the program.
    pub fn add_message(&mut self, event: &str, data: &str) {
        self.try_add_message(event, data)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    /// Buffers an event with a name and data, or fails if the name holds CR or LF.
    pub fn try_add_message(&mut self, event: &str, data: &str) -> Result<(), Error> {
        encode_message(&mut self.buffer, event, data)?;
        self.events += 1;
        Ok(())
    }

    /// Buffers an event with every field it sets.
    pub fn add_event(&mut self, event: &Event) {
        event.encode_into(&mut self.buffer);
        self.events += 1;
    }

    /// Hands what is buffered to the response: the buffer whole, so that a stream idle
    /// after a burst keeps none of the room the burst took (a split would keep the
    /// rest of the allocation, and with it the allocation, until the next flush).
    fn hand_over(&mut self) {
        self.outbox.put(std::mem::take(&mut self.buffer).freeze());
        telemetry::delivered(u64::from(std::mem::take(&mut self.events)));
    }

    /// Buffers a typed event (see [`SseEvent`](crate::SseEvent)); fails, buffering
    /// nothing, if its data cannot be serialized.
    pub fn add_typed<E: crate::SseEvent + ?Sized>(&mut self, event: &E) -> Result<(), Error> {
        let event = event.to_event()?;
        self.add_event(&event);
        Ok(())
    }

    /// Buffers a typed event and flushes: [`add_typed`](Sse::add_typed) then
    /// [`flush`](Sse::flush).
    pub async fn send_typed<E: crate::SseEvent + ?Sized>(
        &mut self,
        event: &E,
    ) -> Result<(), Error> {
        self.add_typed(event)?;
        self.flush().await;
        Ok(())
    }

    /// Buffers bytes that are already encoded events, such as [`Event::encode`] returned.
    pub fn add_encoded(&mut self, frame: &[u8]) {
        self.buffer.extend_from_slice(frame);
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Sends everything buffered to the client as one frame, and resumes when the
    /// response has taken it: the seed's `yield`.
    ///
    /// If the client has gone, the view is dropped at this point and does not resume.
    pub fn flush(&mut self) -> Flush<'_> {
        Flush {
            sse: self,
            handed_over: false,
            wake: true,
        }
    }

    /// Sends bytes that are already encoded events, without copying them when nothing
    /// else is buffered: how a channel view passes on what the hub encoded once. Only
    /// for bodies of this crate's own that await it directly (see [`Flush::poll`]).
    pub(crate) fn send_encoded(&mut self, frame: Bytes) -> Flush<'_> {
        let frame = if self.buffer.is_empty() {
            frame
        } else {
            self.buffer.extend_from_slice(&frame);
            std::mem::take(&mut self.buffer).freeze()
        };
        self.outbox.put(frame);
        Flush {
            sse: self,
            handed_over: true,
            wake: false,
        }
    }

    /// Buffers `event` and flushes: one event sent on its own.
    pub async fn send(&mut self, event: &Event) {
        self.add_event(event);
        self.flush().await;
    }

    /// Says the stream is complete, with everything buffered: a browser that reconnects
    /// is answered `204 No Content` and its `EventSource` stops, instead of streaming
    /// from the start again. Return from the view right after. (The last event's id is
    /// [`FINISHED_ID`](crate::FINISHED_ID); see the `finished` module.)
    pub async fn finish(&mut self) {
        self.send(&Event::new().id(crate::finished::FINISHED_ID))
            .await;
    }
}

impl Drop for Sse {
    /// What a view buffered but did not flush before it returned still goes out.
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            self.hand_over();
        }
    }
}

/// The future of [`Sse::flush`].
#[must_use = "nothing is sent until the flush is awaited"]
#[derive(Debug)]
pub struct Flush<'a> {
    sse: &'a mut Sse,
    handed_over: bool,
    /// Whether to wake the task when it waits for the response (see `poll`).
    wake: bool,
}

impl Future for Flush<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.handed_over {
            if self.sse.buffer.is_empty() {
                return Poll::Ready(());
            }
            self.sse.hand_over();
            self.handed_over = true;
        }
        // The response that polls this view takes the frame as soon as the view yields,
        // sends it and polls again. The wake is for combinators inside a user's view
        // (such as `FuturesUnordered`) that poll only what was woken; it costs one more
        // poll of the task per flush, which this crate's own bodies, awaiting directly,
        // do without.
        if self.sse.outbox.is_empty() {
            Poll::Ready(())
        } else {
            if self.wake {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
    }
}
