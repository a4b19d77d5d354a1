//! The queue of one channel in one process: the encoded events its local listeners have
//! not all read yet, shared by all of them.
//!
//! It holds what is queued and nothing more. Each event remembers how many readers have
//! still to read it and leaves the queue once the last of them has; an idle channel
//! holds no event and no buffer, so a channel per user costs a few hundred bytes, not a
//! preallocated ring. A reader that falls more than `cap` events behind loses its place
//! (the events it missed are dropped for it) and is told how many it missed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::encoded::Encoded;
use super::id::EventId;
use crate::channel::ChannelName;

/// One channel's queue.
pub(crate) struct Queue {
    /// The channel it queues: the one copy of the name its listeners and the fanout
    /// share.
    channel: ChannelName,
    state: Mutex<State>,
    /// The position of the next event pushed, and how many times the waiting readers
    /// were woken: a reader with nothing to read whose waker is still waiting sees it
    /// from these, without the lock.
    end: AtomicU64,
    rounds: AtomicU64,
}

struct State {
    /// The queued events; `slots[i]` is at position `first + i`.
    slots: VecDeque<Slot>,
    first: u64,
    readers: u32,
    /// Readers waiting for the next event or for readiness, woken all at once.
    waiting: Vec<Waker>,
    /// How many of `waiting` are readers that left (their wakers let go of).
    vacant: u32,
    /// Whether the broker delivers the channel now.
    ready: bool,
    /// For a broker that may hand an event over twice (Redis, filling a gap after a
    /// reconnection): the id of the last event the hub issued that was pushed, or, before
    /// the first, a mark from when the broker began to deliver the channel. `ZERO` until
    /// then.
    delivered: EventId,
    /// The most events a reader may fall behind.
    cap: u32,
}

struct Slot {
    frame: Encoded,
    /// How many readers have still to read it.
    unread: usize,
}

/// A reader's place in a queue: the position of the next event it reads, and where its
/// waker waits.
#[derive(Debug)]
pub(crate) struct Place {
    next: u64,
    /// The round of wakes and the index in `waiting` its waker was put at; `NOWHERE`
    /// before it waited (a pair of integers, not an `Option`: a stream holds one place a
    /// channel, and this is 8 bytes less).
    round: u64,
    at: u32,
    waker: Option<Waker>,
    /// Whether it last found nothing to read: a reader that keeps up waits again after
    /// each event, one that is behind does not.
    idle: bool,
}

/// The index of a place that never waited.
const NOWHERE: u32 = u32::MAX;

impl Place {
    /// The index of its waker in the waiting list, if it was put there in `round`.
    fn waiting_in(&self, round: u64) -> Option<usize> {
        (self.at != NOWHERE && self.round == round).then_some(self.at as usize)
    }
}

/// Why a reader gets no more events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It fell further behind than the queue keeps; this many events were dropped for it.
    Lagged(u64),
}

impl Queue {
    pub(crate) fn new(channel: ChannelName, cap: usize, ready: bool) -> Self {
        Queue {
            channel,
            state: Mutex::new(State {
                slots: VecDeque::new(),
                first: 0,
                readers: 0,
                waiting: Vec::new(),
                vacant: 0,
                ready,
                delivered: EventId::ZERO,
                cap: u32::try_from(cap).unwrap_or(u32::MAX).max(1),
            }),
            end: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
        }
    }

    /// The channel it queues.
    pub(crate) fn channel(&self) -> &ChannelName {
        &self.channel
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new reader, which reads the events pushed from now on. It leaves with
    /// [`Queue::leave`].
    pub(crate) fn join(&self) -> Place {
        let mut state = self.lock();
        state.readers += 1;
        Place {
            next: state.first + state.slots.len() as u64,
            round: 0,
            at: NOWHERE,
            waker: None,
            idle: false,
        }
    }

    /// How many readers there are.
    pub(crate) fn readers(&self) -> usize {
        self.lock().readers as usize
    }

    /// Queues `frame` for every reader, and wakes those that wait.
    pub(crate) fn push(&self, frame: Encoded) {
        self.push_if(frame, false);
    }

    /// Queues `frame` unless the hub issued it no later than the last event pushed this
    /// way, or than the mark [`Queue::delivered_from`] set. An event of another program
    /// has no id of the hub's: it is always pushed and never moves the mark.
    pub(crate) fn push_once(&self, frame: Encoded) {
        self.push_if(frame, true);
    }

    fn push_if(&self, frame: Encoded, once: bool) {
        let waiting = {
            let mut state = self.lock();
            if once && !state.first_time(frame.id) {
                return;
            }
            if state.readers == 0 {
                return;
            }
            let unread = state.readers as usize;
            state.slots.push_back(Slot { frame, unread });
            if state.slots.len() > state.cap as usize {
                // The readers that have not read it yet are too far behind.
                state.slots.pop_front();
                state.first += 1;
            }
            self.end
                .store(state.first + state.slots.len() as u64, Ordering::Release);
            self.wake_all(&mut state)
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// The broker delivers the channel from now on: events the hub issued before `mark`
    /// are not pushed by [`Queue::push_once`], unless an event was pushed already.
    pub(crate) fn delivered_from(&self, mark: EventId) {
        {
            let mut state = self.lock();
            if state.delivered == EventId::ZERO {
                state.delivered = mark;
            }
        }
        self.set_ready(true);
    }

    /// The id of the last event pushed with [`Queue::push_once`], or the mark the broker
    /// began to deliver from; `ZERO` before it did.
    pub(crate) fn delivered(&self) -> EventId {
        self.lock().delivered
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
            self.wake_all(&mut state)
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Takes every waiting waker, to be woken once the lock is released. The list that
    /// replaces it has room for as many: they come back at once.
    fn wake_all(&self, state: &mut State) -> Vec<Waker> {
        self.rounds.fetch_add(1, Ordering::Release);
        let room = state.waiting.len() - state.vacant as usize;
        state.vacant = 0;
        std::mem::replace(&mut state.waiting, Vec::with_capacity(room))
    }

    /// Moves up to `max` events at `place` into `into`; if there is none, or it read the
    /// last, registers `cx` (if given) to be woken when one comes.
    pub(crate) fn poll_read(
        &self,
        place: &mut Place,
        cx: Option<&mut Context<'_>>,
        into: &mut Vec<Encoded>,
        max: usize,
    ) -> Poll<Result<(), Ended>> {
        if cx
            .as_ref()
            .is_some_and(|cx| self.still_waiting(place, cx.waker()))
        {
            place.idle = true;
            return Poll::Pending;
        }
        let mut state = self.lock();
        if place.next < state.first {
            // Its share of what is still queued is given up as it leaves.
            return Poll::Ready(Err(Ended::Lagged(state.first - place.next)));
        }
        let end = state.first + state.slots.len() as u64;
        let read = place.next < end;
        while place.next < end && into.len() < max {
            let at = (place.next - state.first) as usize;
            let slot = &mut state.slots[at];
            slot.unread -= 1;
            into.push(slot.frame.clone());
            place.next += 1;
        }
        state.pop_read();
        // A reader that keeps up waits as soon as it has read the last event, so that
        // its next poll sees there is nothing new without the lock; one that is behind
        // registers only when it finds nothing, so that events do not wake it while it
        // writes.
        if place.next == end && (place.idle || !read) {
            if let Some(cx) = cx {
                self.register(&mut state, place, cx.waker());
            }
        }
        place.idle = !read;
        match read {
            true => Poll::Ready(Ok(())),
            false => Poll::Pending,
        }
    }

    /// Whether `place` has nothing to read and `waker` waits for the next event already.
    fn still_waiting(&self, place: &Place, waker: &Waker) -> bool {
        let round = self.rounds.load(Ordering::Acquire);
        place.next == self.end.load(Ordering::Acquire)
            && place.waiting_in(round).is_some()
            && place
                .waker
                .as_ref()
                .is_some_and(|ours| ours.will_wake(waker))
    }

    /// Whether the broker delivers the channel; if not, registers `cx` to be woken when
    /// it does.
    pub(crate) fn poll_ready(&self, place: &mut Place, cx: &mut Context<'_>) -> bool {
        let mut state = self.lock();
        if !state.ready {
            self.register(&mut state, place, cx.waker());
        }
        state.ready
    }

    /// How many events are queued after `place`.
    pub(crate) fn queued(&self, place: &Place) -> usize {
        self.end.load(Ordering::Acquire).saturating_sub(place.next) as usize
    }

    /// The reader at `place` leaves: what it had not read no longer waits for it, and
    /// its waker is let go of (it would keep its task's memory until the next event).
    pub(crate) fn leave(&self, place: &Place) {
        let waiting = {
            let mut state = self.lock();
            state.readers -= 1;
            let from = place.next.saturating_sub(state.first) as usize;
            for slot in state.slots.iter_mut().skip(from) {
                slot.unread -= 1;
            }
            state.pop_read();
            let round = self.rounds.load(Ordering::Acquire);
            match place.waiting_in(round) {
                Some(index) => {
                    state.waiting[index] = Waker::noop().clone();
                    state.vacant += 1;
                }
                None => return,
            }
            // On a channel where many come and go between events, the list is rebuilt
            // from those who stay: woken, each waits again.
            let vacant = state.vacant as usize;
            if vacant < VACANT_REBUILD || vacant * 2 < state.waiting.len() {
                return;
            }
            self.wake_all(&mut state)
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Adds `waker` to the waiting, or replaces the reader's waker if it still waits.
    fn register(&self, state: &mut State, place: &mut Place, waker: &Waker) {
        let round = self.rounds.load(Ordering::Acquire);
        match place.waiting_in(round) {
            Some(index) => {
                let registered = &mut state.waiting[index];
                if !registered.will_wake(waker) {
                    registered.clone_from(waker);
                }
            }
            None => {
                // Fewer readers than `NOWHERE`: each holds a socket.
                place.round = round;
                place.at = state.waiting.len() as u32;
                // A channel of one listener waits with room for one, not four.
                if state.waiting.capacity() == 0 {
                    state.waiting.reserve_exact(1);
                }
                state.waiting.push(waker.clone());
            }
        }
        if !place
            .waker
            .as_ref()
            .is_some_and(|ours| ours.will_wake(waker))
        {
            place.waker = Some(waker.clone());
        }
    }
}

impl State {
    /// Whether an event with `id` is new to [`Queue::push_once`]; moves the mark if so.
    fn first_time(&mut self, id: Option<EventId>) -> bool {
        match id {
            Some(id) if id <= self.delivered => false,
            Some(id) => {
                self.delivered = id;
                true
            }
            None => true,
        }
    }

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
}

/// How many readers that left may hold places in the waiting list, at the least, before
/// it is rebuilt; then as many as the readers that wait.
const VACANT_REBUILD: usize = 64;

/// A queue that emptied keeps room for this many events; a larger one is given back.
const IDLE_CAPACITY: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::task::Waker;

    fn name() -> ChannelName {
        ChannelName::new("test").unwrap()
    }

    fn frame(n: u8) -> Encoded {
        Encoded {
            id: None,
            bytes: Bytes::from(vec![n]),
        }
    }

    fn read(queue: &Queue, place: &mut Place) -> Poll<Result<Vec<u8>, Ended>> {
        let mut into = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        queue
            .poll_read(place, Some(&mut cx), &mut into, 64)
            .map_ok(|()| into.iter().map(|frame| frame.bytes[0]).collect())
    }

    #[test]
    fn an_event_leaves_once_every_reader_has_read_it() {
        let queue = Queue::new(name(), 16, true);
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
        queue.leave(&c);
        queue.leave(&b);
        assert_eq!(queue.lock().slots.len(), 1, "a has not read it");
        assert_eq!(read(&queue, &mut a), Poll::Ready(Ok(vec![3])));
        assert!(queue.lock().slots.is_empty());
    }

    fn issued(n: u8, id: &str) -> Encoded {
        Encoded {
            id: Some(id.parse().unwrap()),
            bytes: Bytes::from(vec![n]),
        }
    }

    #[test]
    fn an_event_handed_over_twice_is_pushed_once() {
        let queue = Queue::new(name(), 16, false);
        let mut reader = queue.join();
        assert_eq!(queue.delivered(), EventId::ZERO, "not delivered yet");
        // Subscribed: nothing the hub issued before the mark is pushed.
        queue.delivered_from("100-0".parse().unwrap());
        assert_eq!(queue.delivered(), "100-0".parse().unwrap());
        queue.push_once(issued(1, "99-5"));
        queue.push_once(issued(2, "100-0"));
        queue.push_once(issued(3, "100-1"));
        // Twice, as a gap filled from history gives it again.
        queue.push_once(issued(4, "100-1"));
        queue.push_once(issued(5, "101-0"));
        // Another program's event: no id, always pushed, and the mark stays.
        queue.push_once(frame(6));
        queue.push_once(issued(7, "100-9"));
        assert_eq!(read(&queue, &mut reader), Poll::Ready(Ok(vec![3, 5, 6])));
        assert_eq!(queue.delivered(), "101-0".parse().unwrap());
        // Subscribed again (a reconnection): the last id delivered stays the mark.
        queue.delivered_from("200-0".parse().unwrap());
        assert_eq!(queue.delivered(), "101-0".parse().unwrap());
        // A plain push is not checked.
        queue.push(issued(8, "1-0"));
        assert_eq!(read(&queue, &mut reader), Poll::Ready(Ok(vec![8])));
        assert_eq!(queue.delivered(), "101-0".parse().unwrap());
    }

    #[test]
    fn a_queue_marked_delivered_wakes_the_readers_that_wait_for_it() {
        let queue = Queue::new(name(), 16, false);
        let mut place = queue.join();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(!queue.poll_ready(&mut place, &mut cx));
        queue.delivered_from("1-0".parse().unwrap());
        assert!(queue.poll_ready(&mut place, &mut cx));
    }

    #[test]
    fn a_reader_too_far_behind_is_told_how_many_it_missed() {
        let queue = Queue::new(name(), 2, true);
        let (mut slow, mut fast) = (queue.join(), queue.join());
        queue.push(frame(0));
        assert_eq!(read(&queue, &mut slow), Poll::Ready(Ok(vec![0])));
        for n in 1..6 {
            queue.push(frame(n));
            assert!(read(&queue, &mut fast).is_ready());
        }
        // It read 0; 1, 2 and 3 were dropped for it; 4 and 5 are what the queue keeps.
        assert_eq!(read(&queue, &mut slow), Poll::Ready(Err(Ended::Lagged(3))));
        queue.leave(&slow);
        assert!(queue.lock().slots.is_empty());
    }

    #[test]
    fn a_reader_that_leaves_lets_go_of_its_waker() {
        let (task, waker) = Wakes::new();
        let queue = Queue::new(name(), 16, true);
        let mut stays = queue.join();
        assert!(read(&queue, &mut stays).is_pending());
        for _ in 0..1000 {
            let mut visitor = queue.join();
            let mut into = Vec::new();
            let mut cx = Context::from_waker(&waker);
            assert!(queue
                .poll_read(&mut visitor, Some(&mut cx), &mut into, 1)
                .is_pending());
            queue.leave(&visitor);
            drop(visitor);
            // Held only by this test: `task` and `waker`.
            assert_eq!(
                std::sync::Arc::strong_count(&task),
                2,
                "the waker is let go of"
            );
        }
        assert!(
            queue.lock().waiting.len() <= 2 * VACANT_REBUILD,
            "the waiting list does not grow with those who left"
        );
        queue.push(frame(7));
        assert_eq!(read(&queue, &mut stays), Poll::Ready(Ok(vec![7])));
    }

    #[test]
    fn nothing_is_kept_for_no_reader_and_a_busy_queue_gives_its_memory_back() {
        let queue = Queue::new(name(), 1024, true);
        queue.push(frame(0));
        assert!(queue.lock().slots.is_empty());
        let mut reader = queue.join();
        for n in 0..100 {
            queue.push(frame(n));
        }
        assert_eq!(queue.queued(&reader), 100);
        while read(&queue, &mut reader).is_ready() {}
        assert_eq!(queue.lock().slots.capacity(), 0);
    }

    /// A waker that counts how often it was woken.
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Wakes {
        fn new() -> (std::sync::Arc<Wakes>, Waker) {
            let wakes = std::sync::Arc::new(Wakes(std::sync::atomic::AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            (wakes, waker)
        }

        fn count(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn read_up_to(queue: &Queue, place: &mut Place, waker: &Waker, max: usize) -> Poll<usize> {
        let mut into = Vec::new();
        let mut cx = Context::from_waker(waker);
        match queue.poll_read(place, Some(&mut cx), &mut into, max) {
            Poll::Ready(Ok(())) => Poll::Ready(into.len()),
            Poll::Ready(Err(ended)) => panic!("{ended:?}"),
            Poll::Pending => Poll::Pending,
        }
    }

    #[test]
    fn a_reader_behind_is_not_woken_by_each_event_and_one_at_the_end_is() {
        let (wakes, waker) = Wakes::new();
        let queue = Queue::new(name(), 16, true);
        let mut reader = queue.join();
        assert!(read_up_to(&queue, &mut reader, &waker, 16).is_pending());
        for n in 0..3 {
            queue.push(frame(n));
        }
        assert_eq!(wakes.count(), 1, "the first event wakes it, once");
        // Behind: it reads one of three and writes; new events do not wake it.
        assert_eq!(read_up_to(&queue, &mut reader, &waker, 1), Poll::Ready(1));
        queue.push(frame(3));
        assert_eq!(wakes.count(), 1, "a reader behind was woken");
        assert_eq!(read_up_to(&queue, &mut reader, &waker, 16), Poll::Ready(3));
        // At the end with nothing to read, it waits, and the next event wakes it.
        assert!(read_up_to(&queue, &mut reader, &waker, 16).is_pending());
        queue.push(frame(4));
        assert_eq!(wakes.count(), 2, "the next event wakes it");
    }

    #[test]
    fn a_reader_woken_with_nothing_to_read_waits_again() {
        let (wakes, waker) = Wakes::new();
        let queue = Queue::new(name(), 16, true);
        let mut reader = queue.join();
        queue.push(frame(0));
        assert_eq!(read_up_to(&queue, &mut reader, &waker, 16), Poll::Ready(1));
        // Woken for something else than an event (the broker is back): nothing to read.
        queue.set_ready(true);
        let before = wakes.count();
        assert!(read_up_to(&queue, &mut reader, &waker, 16).is_pending());
        queue.push(frame(1));
        assert_eq!(wakes.count(), before + 1, "the next event wakes it");
        assert_eq!(read_up_to(&queue, &mut reader, &waker, 16), Poll::Ready(1));
    }

    #[test]
    fn a_reader_that_waited_waits_again_as_soon_as_it_read_the_last_event() {
        let (wakes, waker) = Wakes::new();
        let queue = Queue::new(name(), 16, true);
        let mut reader = queue.join();
        assert!(read_up_to(&queue, &mut reader, &waker, 16).is_pending());
        queue.push(frame(0));
        assert_eq!(wakes.count(), 1, "the event wakes it");
        // Woken, it reads the event, and waits for the next one without another poll
        // (its next poll sees there is nothing new without the lock).
        assert_eq!(read_up_to(&queue, &mut reader, &waker, 16), Poll::Ready(1));
        queue.push(frame(1));
        assert_eq!(wakes.count(), 2, "the next event wakes it");
    }

    #[test]
    fn a_reader_that_stays_is_not_woken_each_time_another_leaves() {
        let (wakes, waker) = Wakes::new();
        let queue = Queue::new(name(), 16, true);
        let mut stays = queue.join();
        assert!(read_up_to(&queue, &mut stays, &waker, 16).is_pending());
        for _ in 0..10 {
            let mut visitor = queue.join();
            assert!(read_up_to(&queue, &mut visitor, Waker::noop(), 16).is_pending());
            queue.leave(&visitor);
        }
        assert_eq!(wakes.count(), 0, "woken by those who left");
    }

    #[test]
    fn the_waiting_list_does_not_grow_with_those_who_left_beside_many_who_stay() {
        let queue = Queue::new(name(), 16, true);
        let mut stay: Vec<Place> = (0..10).map(|_| queue.join()).collect();
        for place in &mut stay {
            assert!(read_up_to(&queue, place, Waker::noop(), 16).is_pending());
        }
        for _ in 0..1000 {
            let mut visitor = queue.join();
            assert!(read_up_to(&queue, &mut visitor, Waker::noop(), 16).is_pending());
            queue.leave(&visitor);
        }
        let waiting = queue.lock().waiting.len();
        assert!(
            waiting <= 2 * VACANT_REBUILD + stay.len(),
            "{waiting} wakers wait for 10 readers"
        );
    }
}
