//! The local side of the hub: for each channel with listeners in this process, one
//! [`Queue`] of encoded events that all of them read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::encoded::Encoded;
use super::presence::{Counts, Presence};
use super::queue::{Place, Queue};
use super::Broker;
use crate::channel::ChannelName;

/// The channels that have local listeners.
pub(crate) struct Fanout {
    channels: Mutex<HashMap<ChannelName, Arc<Queue>>>,
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

    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelName, Arc<Queue>>> {
        // Every critical section leaves the map whole.
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a listener to `channel`, telling `broker` if it is the first: the channel's
    /// queue and the listener's position in it.
    pub(crate) fn join(&self, channel: &ChannelName, broker: &dyn Broker) -> (Arc<Queue>, Place) {
        let mut channels = self.lock();
        let queue = channels
            .entry(channel.clone())
            .or_insert_with(|| Arc::new(Queue::new(self.cap, broker.listen(channel))));
        // Under the map's lock, so that a last listener leaving meanwhile sees this one.
        let place = queue.join();
        self.presence.changed(channel);
        (queue.clone(), place)
    }

    /// A listener of `channel` at `place` leaves: if it was the last, forget the channel
    /// and tell `broker`.
    pub(crate) fn leave(
        &self,
        channel: &ChannelName,
        queue: &Queue,
        place: &Place,
        broker: &dyn Broker,
    ) {
        let mut channels = self.lock();
        queue.leave(place);
        self.presence.changed(channel);
        if queue.readers() == 0 {
            channels.remove(channel);
            broker.unlisten(channel);
        }
    }

    /// Hands an encoded event to every local listener of `channel`.
    pub(crate) fn deliver(&self, channel: &str, frame: Encoded) {
        let queue = self.lock().get(channel).cloned();
        if let Some(queue) = queue {
            queue.push(frame);
        }
    }

    /// Marks whether the broker delivers `channel` now.
    pub(crate) fn set_ready(&self, channel: &str, ready: bool) {
        if let Some(queue) = self.lock().get(channel) {
            queue.set_ready(ready);
        }
    }

    /// Marks every channel as not delivered, as when the broker's connection is lost.
    pub(crate) fn set_none_ready(&self) {
        for queue in self.lock().values() {
            queue.set_ready(false);
        }
    }

    /// The channels that have listeners now.
    /// Every channel with local listeners.
    pub(crate) fn channel_names(&self) -> Vec<ChannelName> {
        self.lock().keys().cloned().collect()
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
        let queue = self.lock().get(channel).cloned();
        queue.map_or(0, |queue| queue.readers())
    }

    fn channel_names(&self) -> Vec<ChannelName> {
        Fanout::channel_names(self)
    }
}
