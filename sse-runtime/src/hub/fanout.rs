//! The local side of the hub: for each channel with listeners in this process, one
//! [`Queue`] of encoded events that all of them read.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::encoded::Encoded;
use super::id::EventId;
use super::presence::{Counts, Presence};
use super::queue::{Place, Queue};
use super::Broker;
use crate::channel::ChannelName;

/// The channels that have local listeners.
pub(crate) struct Fanout {
    channels: Mutex<HashSet<Listened>>,
    /// How many events one listener may fall behind before it is cut off.
    cap: usize,
    /// Told of every listener that comes and goes: the queues are the process's count.
    presence: Presence,
}

impl Fanout {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            channels: Mutex::default(),
            cap,
            presence: Presence::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<Listened>> {
        // Every critical section leaves the map whole.
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a listener to `channel`, telling `broker` if it is the first: the channel's
    /// queue and the listener's position in it.
    pub(crate) fn join(&self, channel: &ChannelName, broker: &dyn Broker) -> (Arc<Queue>, Place) {
        let mut channels = self.lock();
        let queue = match channels.get(channel.as_str()) {
            Some(Listened(queue)) => queue.clone(),
            None => {
                let ready = broker.listen(channel);
                let queue = Arc::new(Queue::new(channel.clone(), self.cap, ready));
                channels.insert(Listened(queue.clone()));
                queue
            }
        };
        // Under the map's lock, so that a last listener leaving meanwhile sees this one.
        let place = queue.join();
        self.presence.changed(channel);
        (queue, place)
    }

    /// A listener of `channel` at `place` leaves: if it was the last, forget the channel
    /// and tell `broker`.
    pub(crate) fn leave(&self, queue: &Queue, place: &Place, broker: &dyn Broker) {
        let channel = queue.channel();
        let mut channels = self.lock();
        queue.leave(place);
        self.presence.changed(channel);
        if queue.readers() == 0 {
            channels.remove(channel.as_str());
            broker.unlisten(channel);
        }
    }

    /// Hands an encoded event to every local listener of `channel`.
    pub(crate) fn deliver(&self, channel: &str, frame: Encoded) {
        let queue = self.queue(channel);
        if let Some(queue) = queue {
            queue.push(frame);
        }
    }

    /// Hands an event to every local listener of `channel` unless it was handed over
    /// already ([`Queue::push_once`]): for a broker that may deliver an event twice.
    pub(crate) fn deliver_once(&self, channel: &str, frame: Encoded) {
        if let Some(queue) = self.queue(channel) {
            queue.push_once(frame);
        }
    }

    /// The broker delivers `channel` from now on, events the hub issued from `mark`.
    pub(crate) fn delivered_from(&self, channel: &str, mark: EventId) {
        if let Some(queue) = self.queue(channel) {
            queue.delivered_from(mark);
        }
    }

    /// Each channel with listeners that the broker delivers, with the id of the last
    /// event it delivered on it (or its mark): where to fill a gap from.
    pub(crate) fn delivered(&self) -> Vec<(ChannelName, EventId)> {
        let channels = self.lock();
        channels
            .iter()
            .map(|Listened(queue)| (queue.channel().clone(), queue.delivered()))
            .filter(|(_, last)| *last != EventId::ZERO)
            .collect()
    }

    /// Marks every channel as not delivered, as when the broker's connection is lost.
    pub(crate) fn set_none_ready(&self) {
        for Listened(queue) in self.lock().iter() {
            queue.set_ready(false);
        }
    }

    /// Every channel with local listeners.
    pub(crate) fn channel_names(&self) -> Vec<ChannelName> {
        self.channel_names_after(|| {})
    }

    /// Runs `first`, then reads every channel with local listeners, with no listener
    /// coming or going in between: a broker drains the changes it was told of in `first`
    /// and knows that every change after is one from the names read.
    pub(crate) fn channel_names_after(&self, first: impl FnOnce()) -> Vec<ChannelName> {
        let channels = self.lock();
        first();
        channels
            .iter()
            .map(|Listened(queue)| queue.channel().clone())
            .collect()
    }

    /// The queue of `channel`, if it has listeners.
    fn queue(&self, channel: &str) -> Option<Arc<Queue>> {
        self.lock()
            .get(channel)
            .map(|Listened(queue)| queue.clone())
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.lock().len()
    }
}

impl Counts for Fanout {
    fn presence(&self) -> &Presence {
        &self.presence
    }

    fn readers(&self, channel: &str) -> usize {
        self.queue(channel).map_or(0, |queue| queue.readers())
    }

    fn channel_names(&self) -> Vec<ChannelName> {
        Fanout::channel_names(self)
    }
}

/// A channel's queue in the fanout's set, found by the channel's name, which it holds.
struct Listened(Arc<Queue>);

impl Borrow<str> for Listened {
    fn borrow(&self) -> &str {
        self.0.channel().as_str()
    }
}

impl Hash for Listened {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As the name hashes: a `&str` finds it.
        self.0.channel().as_str().hash(state);
    }
}

impl PartialEq for Listened {
    fn eq(&self, other: &Self) -> bool {
        self.0.channel() == other.0.channel()
    }
}

impl Eq for Listened {}
