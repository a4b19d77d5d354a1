//! The local side of the hub: for each channel with listeners in this process, one
//! broadcast of encoded events.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{broadcast, watch};

use super::history::Frame;
use super::Broker;
use crate::channel::ChannelName;

/// The channels that have local listeners.
pub(crate) struct Fanout {
    channels: Mutex<HashMap<ChannelName, Local>>,
    /// How many events one listener may fall behind before it is cut off.
    queue: usize,
}

struct Local {
    sender: broadcast::Sender<Frame>,
    ready: watch::Sender<bool>,
}

impl Fanout {
    pub(crate) fn new(queue: usize) -> Self {
        Self {
            channels: Mutex::default(),
            queue: queue.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelName, Local>> {
        // Every critical section leaves the map whole, so a panic elsewhere cannot
        // have broken it.
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a listener to `channel`, telling `broker` if it is the first.
    pub(crate) fn join(
        &self,
        channel: &ChannelName,
        broker: &dyn Broker,
    ) -> (broadcast::Receiver<Frame>, watch::Receiver<bool>) {
        let mut channels = self.lock();
        let local = channels.entry(channel.clone()).or_insert_with(|| {
            let ready = broker.listen(channel);
            Local {
                sender: broadcast::channel(self.queue).0,
                ready: watch::channel(ready).0,
            }
        });
        (local.sender.subscribe(), local.ready.subscribe())
    }

    /// A listener of `channel` left: if it was the last, forget the channel and tell
    /// `broker`.
    pub(crate) fn leave(&self, channel: &ChannelName, broker: &dyn Broker) {
        let mut channels = self.lock();
        if channels
            .get(channel)
            .is_some_and(|local| local.sender.receiver_count() == 0)
        {
            channels.remove(channel);
            broker.unlisten(channel);
        }
    }

    /// Hands an encoded event to every local listener of `channel`.
    pub(crate) fn deliver(&self, channel: &str, frame: Frame) {
        if let Some(local) = self.lock().get(channel) {
            // No receiver left means the listener is leaving right now: nothing to do.
            let _ = local.sender.send(frame);
        }
    }

    /// Marks whether the broker delivers `channel` now.
    pub(crate) fn set_ready(&self, channel: &str, ready: bool) {
        if let Some(local) = self.lock().get(channel) {
            local.ready.send_replace(ready);
        }
    }

    /// Marks every channel as not delivered, as when the broker's connection is lost.
    pub(crate) fn set_none_ready(&self) {
        for local in self.lock().values() {
            local.ready.send_replace(false);
        }
    }

    /// The channels that have listeners now.
    pub(crate) fn channel_names(&self) -> Vec<ChannelName> {
        self.lock().keys().cloned().collect()
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.lock().len()
    }
}
