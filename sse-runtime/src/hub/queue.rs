//! The queue of one channel in one process: the encoded events its local listeners have
//! not all read yet, shared by all of them.
//!
//! It holds what is queued and nothing more. Each event remembers how many readers have
//! still to read it and leaves the queue once the last of them has; an idle channel
//! holds no event and no buffer, so a channel per user costs a few hundred bytes, not a
//! preallocated ring. A reader that falls more than `cap` events behind loses its place
//! (the events it missed are dropped for it) and is told how many it missed.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::frame::Frame;

/// One channel's queue.
pub(crate) struct Queue {
    state: Mutex<State>,
}

struct State {
    /// The queued events; `slots[i]` is at position `first + i`.
    slots: VecDeque<Slot>,
    first: u64,
    readers: usize,
    /// Readers waiting for the next event or for readiness; `generation` counts the times
    /// they were all woken, so a reader can tell whether its waker is still here.
    waiting: Vec<Waker>,
    generation: u64,
    /// Whether the broker delivers the channel now.
    ready: bool,
    /// The most events a reader may fall behind.
    cap: usize,
}

struct Slot {
    frame: Frame,
    /// How many readers have still to read it.
    unread: usize,
}

/// Why a reader gets no more events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It fell further behind than the queue keeps; this many events were dropped for it.
    Lagged(u64),
}

impl Queue {
    pub(crate) fn new(cap: usize, ready: bool) -> Self {
        Queue {
            state: Mutex::new(State {
                slots: VecDeque::new(),
                first: 0,
                readers: 0,
                waiting: Vec::new(),
                generation: 0,
                ready,
                cap: cap.max(1),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new reader, which reads the events pushed from now on. The caller counts it
    /// out with [`Queue::leave`].
    pub(crate) fn join(&self) -> u64 {
        let mut state = self.lock();
        state.readers += 1;
        state.first + state.slots.len() as u64
    }

    /// How many readers there are.
    pub(crate) fn readers(&self) -> usize {
        self.lock().readers
    }

    /// Queues `frame` for every reader, and wakes those that wait.
    pub(crate) fn push(&self, frame: Frame) {
        let waiting = {
            let mut state = self.lock();
            if state.readers == 0 {
                return;
            }
            let unread = state.readers;
            state.slots.push_back(Slot { frame, unread });
            if state.slots.len() > state.cap {
                // The readers that have not read it yet are too far behind.
                state.slots.pop_front();
                state.first += 1;
            }
            state.wake_all()
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Marks whether the broker delivers the channel now, waking the readers that wait
    /// for it.
    pub(crate) fn set_ready(&self, ready: bool) {
        let waiting = {
            let mut state = self.lock();
            state.ready = ready;
            if !ready {
                return;
            }
            state.wake_all()
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Moves up to `max` events after position `*next` into `into`, advancing `*next`;
    /// if there is none, registers `cx` (if given) to be woken when one comes.
    pub(crate) fn poll_read(
        &self,
        next: &mut u64,
        waker_at: &mut Option<(u64, usize)>,
        cx: Option<&mut Context<'_>>,
        into: &mut Vec<Frame>,
        max: usize,
    ) -> Poll<Result<(), Ended>> {
        let mut state = self.lock();
        if *next < state.first {
            let missed = state.first - *next;
            // Its share of what is still queued is given up as it leaves.
            return Poll::Ready(Err(Ended::Lagged(missed)));
        }
        let end = state.first + state.slots.len() as u64;
        if *next == end {
            if let Some(cx) = cx {
                state.register(waker_at, cx.waker());
            }
            return Poll::Pending;
        }
        while *next < end && into.len() < max {
            let at = (*next - state.first) as usize;
            let slot = &mut state.slots[at];
            slot.unread -= 1;
            into.push(slot.frame.clone());
            *next += 1;
        }
        state.pop_read();
        Poll::Ready(Ok(()))
    }

    /// Whether the broker delivers the channel; if not, registers `cx` to be woken when
    /// it does.
    pub(crate) fn poll_ready(
        &self,
        waker_at: &mut Option<(u64, usize)>,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut state = self.lock();
        if !state.ready {
            state.register(waker_at, cx.waker());
        }
        state.ready
    }

    /// How many events after position `next` are queued.
    pub(crate) fn queued(&self, next: u64) -> usize {
        let state = self.lock();
        (state.first + state.slots.len() as u64).saturating_sub(next) as usize
    }

    /// A reader at position `next` leaves: what it had not read no longer waits for it.
    pub(crate) fn leave(&self, next: u64) {
        let mut state = self.lock();
        state.readers -= 1;
        let from = next.saturating_sub(state.first) as usize;
        for slot in state.slots.iter_mut().skip(from) {
            slot.unread -= 1;
        }
        state.pop_read();
    }
}

impl State {
    /// Drops the events at the front that every reader has read; gives back the memory
    /// of a queue that was busy and is empty again.
    fn pop_read(&mut self) {
        while self.slots.front().is_some_and(|slot| slot.unread == 0) {
            self.slots.pop_front();
            self.first += 1;
        }
        if self.slots.is_empty() && self.slots.capacity() > IDLE_CAPACITY {
            self.slots = VecDeque::new();
        }
    }

    /// Takes every waiting waker, to be woken once the lock is released.
    fn wake_all(&mut self) -> Vec<Waker> {
        self.generation += 1;
        std::mem::take(&mut self.waiting)
    }

    /// Adds `waker`, or replaces the reader's waker if it is still waiting.
    fn register(&mut self, waker_at: &mut Option<(u64, usize)>, waker: &Waker) {
        match *waker_at {
            Some((generation, index)) if generation == self.generation => {
                let registered = &mut self.waiting[index];
                if !registered.will_wake(waker) {
                    registered.clone_from(waker);
                }
            }
            _ => {
                *waker_at = Some((self.generation, self.waiting.len()));
                self.waiting.push(waker.clone());
            }
        }
    }
}

/// A queue that emptied keeps room for this many events; a larger one is given back.
const IDLE_CAPACITY: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::task::Waker;

    fn frame(n: u8) -> Frame {
        Frame {
            id: None,
            bytes: Bytes::from(vec![n]),
        }
    }

    fn read(queue: &Queue, next: &mut u64) -> Poll<Result<Vec<u8>, Ended>> {
        let mut into = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut waker_at = None;
        queue
            .poll_read(next, &mut waker_at, Some(&mut cx), &mut into, 64)
            .map_ok(|()| into.iter().map(|frame| frame.bytes[0]).collect())
    }

    #[test]
    fn an_event_leaves_once_every_reader_has_read_it() {
        let queue = Queue::new(16, true);
        let (mut a, mut b) = (queue.join(), queue.join());
        queue.push(frame(1));
        queue.push(frame(2));
        assert_eq!(read(&queue, &mut a), Poll::Ready(Ok(vec![1, 2])));
        assert_eq!(queue.lock().slots.len(), 2, "b has not read them");
        assert_eq!(read(&queue, &mut b), Poll::Ready(Ok(vec![1, 2])));
        assert!(queue.lock().slots.is_empty());
        assert!(read(&queue, &mut a).is_pending());
        let c = queue.join();
        queue.push(frame(3));
        queue.leave(c);
        queue.leave(b);
        assert_eq!(queue.lock().slots.len(), 1, "a has not read it");
        assert_eq!(read(&queue, &mut a), Poll::Ready(Ok(vec![3])));
        assert!(queue.lock().slots.is_empty());
    }

    #[test]
    fn a_reader_too_far_behind_is_told_how_many_it_missed() {
        let queue = Queue::new(2, true);
        let (mut slow, mut fast) = (queue.join(), queue.join());
        for n in 0..5 {
            queue.push(frame(n));
            assert!(read(&queue, &mut fast).is_ready());
        }
        assert_eq!(read(&queue, &mut slow), Poll::Ready(Err(Ended::Lagged(3))));
        queue.leave(slow);
        assert!(queue.lock().slots.is_empty());
    }

    #[test]
    fn nothing_is_kept_for_no_reader_and_a_busy_queue_gives_its_memory_back() {
        let queue = Queue::new(1024, true);
        queue.push(frame(0));
        assert!(queue.lock().slots.is_empty());
        let mut reader = queue.join();
        for n in 0..100 {
            queue.push(frame(n));
        }
        assert_eq!(queue.queued(reader), 100);
        while read(&queue, &mut reader).is_ready() {}
        assert_eq!(queue.lock().slots.capacity(), 0);
    }
}
