//! The idempotency keys a broker of this process has sent with, for a broker that has no
//! place of its own to keep them (the embedded hub, RabbitMQ; Redis keeps them beside
//! each channel's history): so many of them, the oldest forgotten first.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::channel::ChannelName;

/// How many keys a process remembers.
pub(super) const KEYS_KEPT: usize = 100_000;

pub(super) struct SentKeys {
    kept: usize,
    /// `<length of the channel>:<channel>:<key>`, so that no two channels' keys meet.
    keys: HashSet<Arc<str>>,
    /// The same, oldest first.
    order: VecDeque<Arc<str>>,
}

impl SentKeys {
    /// Keys that remember the last `kept`.
    pub(super) fn new(kept: usize) -> Self {
        SentKeys {
            kept,
            keys: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Remembers `key` for `channel`; false if it was sent with already.
    pub(super) fn first_use(&mut self, channel: &ChannelName, key: &str) -> bool {
        let entry = entry(channel, key);
        if self.keys.contains(&entry) {
            return false;
        }
        if self.order.len() == self.kept {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        self.keys.insert(entry.clone());
        self.order.push_back(entry);
        true
    }

    /// Forgets `key` of `channel`, for a send that did not happen: a retry may send it.
    pub(super) fn forget(&mut self, channel: &ChannelName, key: &str) {
        let entry = entry(channel, key);
        if self.keys.remove(&entry) {
            self.order.retain(|kept| *kept != entry);
        }
    }
}

fn entry(channel: &ChannelName, key: &str) -> Arc<str> {
    let channel = channel.as_str();
    format!("{}:{channel}:{key}", channel.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str) -> ChannelName {
        ChannelName::new(name).unwrap()
    }

    #[test]
    fn a_key_is_used_once_a_channel() {
        let mut keys = SentKeys::new(10);
        assert!(keys.first_use(&channel("a"), "k"));
        assert!(!keys.first_use(&channel("a"), "k"));
        assert!(keys.first_use(&channel("b"), "k"), "another channel's");
        // The length keeps `a:b` + `c` apart from `a` + `b:c`.
        assert!(keys.first_use(&channel("a:b"), "c"));
        assert!(keys.first_use(&channel("a"), "b:c"));
    }

    #[test]
    fn the_oldest_key_is_forgotten_first_and_no_more_are_kept() {
        let mut keys = SentKeys::new(2);
        let room = channel("room");
        assert!(keys.first_use(&room, "1"));
        assert!(keys.first_use(&room, "2"));
        assert!(!keys.first_use(&room, "1"), "two are kept");
        assert!(keys.first_use(&room, "3"));
        assert!(!keys.first_use(&room, "2"));
        assert!(!keys.first_use(&room, "3"));
        assert!(keys.first_use(&room, "1"), "the oldest forgotten");
    }

    #[test]
    fn a_key_forgotten_is_new_again_and_the_others_keep_their_turn() {
        let mut keys = SentKeys::new(3);
        let room = channel("room");
        assert!(keys.first_use(&room, "1"));
        assert!(keys.first_use(&room, "2"));
        keys.forget(&room, "1");
        keys.forget(&room, "never used");
        assert!(!keys.first_use(&room, "2"), "the other is kept");
        assert!(keys.first_use(&room, "1"), "a forgotten key is new again");
        assert!(keys.first_use(&room, "3"));
        assert!(keys.first_use(&room, "4"));
        assert!(
            keys.first_use(&room, "2"),
            "the oldest, forgotten in its turn"
        );
        assert!(
            keys.first_use(&room, "1"),
            "then the key that came back, in its new turn"
        );
        assert!(!keys.first_use(&room, "4"), "the newest kept");
    }
}
