//! The idempotency keys a broker of this process has sent with, for a broker that has no
//! place of its own to keep them (the embedded hub, RabbitMQ; Redis keeps them beside
//! each channel's history): so many of them, the oldest forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::channel::ChannelName;

/// How many keys a process remembers.
pub(super) const KEYS_KEPT: usize = 100_000;

pub(super) struct SentKeys {
    kept: usize,
    /// Each key remembered (`<length of the channel>:<channel>:<key>`, so that no two
    /// channels' keys meet), with the turn it was remembered at.
    keys: HashMap<Arc<str>, u64>,
    /// The turns, oldest first. A key forgotten since keeps its place here until its turn
    /// comes up, so that forgetting one (each keyed send that fails while the broker is
    /// down) costs no search through a hundred thousand.
    order: VecDeque<(u64, Arc<str>)>,
    turns: u64,
}

impl SentKeys {
    /// Keys that remember the last `kept`.
    pub(super) fn new(kept: usize) -> Self {
        SentKeys {
            kept,
            keys: HashMap::new(),
            order: VecDeque::new(),
            turns: 0,
        }
    }

    /// Remembers `key` for `channel`; false if it was sent with already.
    pub(super) fn first_use(&mut self, channel: &ChannelName, key: &str) -> bool {
        let entry = entry(channel, key);
        if self.keys.contains_key(&entry) {
            return false;
        }
        if self.order.len() == self.kept {
            if let Some((turn, oldest)) = self.order.pop_front() {
                // Unless it was forgotten, and maybe remembered again at a later turn.
                if self.keys.get(&oldest) == Some(&turn) {
                    self.keys.remove(&oldest);
                }
            }
        }
        self.turns += 1;
        self.keys.insert(entry.clone(), self.turns);
        self.order.push_back((self.turns, entry));
        true
    }

    /// Forgets `key` of `channel`, for a send that did not happen: a retry may send it.
    pub(super) fn forget(&mut self, channel: &ChannelName, key: &str) {
        self.keys.remove(&entry(channel, key));
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

    #[test]
    fn a_key_remembered_again_after_it_was_forgotten_keeps_its_new_turn() {
        let mut keys = SentKeys::new(3);
        let room = channel("room");
        assert!(keys.first_use(&room, "1"));
        keys.forget(&room, "1");
        assert!(keys.first_use(&room, "1"));
        assert!(keys.first_use(&room, "2"));
        assert!(
            keys.first_use(&room, "3"),
            "the forgotten turn of 1 comes up"
        );
        assert!(
            !keys.first_use(&room, "1"),
            "1 is remembered from its second turn"
        );
    }
}
