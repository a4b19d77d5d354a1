//! The names of what the hub keeps in Redis.
//!
//! On one server: a channel's history is the stream `sse:history:<channel>`, an
//! idempotency key `sse:sent:<length of channel>:<channel>:<key>`, presence the sorted set
//! `sse:presence:processes` and a hash `sse:presence:channel:<channel>` a channel.
//!
//! In a cluster, the send script writes a channel's history and publishes on its shard
//! channel at once, so the history must live in the slot of the channel's name: each of
//! a channel's keys carries a hash tag whose slot is the channel's. A name with its own
//! tag (`{user:1}:inbox`) is written as it is, since the tag stays the first in the key;
//! another is written inside one (`sse:history:{room:1}`); the rare name whose slot no
//! tag around it can give (a `}` outside any tag, as in `a}b`) gets a number as its tag,
//! the smallest in that slot: `sse:history:{<n>}a}b`. Presence lives in one slot,
//! `{sse:presence}`, so that one script updates it.

use std::borrow::Cow;
use std::sync::LazyLock;

/// Where the keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    Server,
    Cluster,
}

/// The slots of a Redis Cluster.
const SLOTS: u16 = 16384;

impl Keys {
    /// The key of a channel's history stream.
    pub(super) fn history(self, channel: &str) -> String {
        format!("sse:history:{}", self.channel(channel))
    }

    /// The key that remembers an idempotency key of a channel. The channel's length comes
    /// first: channel `a:b` with key `c` and channel `a` with key `b:c` are not the same.
    pub(super) fn sent(self, channel: &str, key: &str) -> String {
        format!("sse:sent:{}:{}:{key}", channel.len(), self.channel(channel))
    }

    /// The key of the sorted set of processes by their last presence heartbeat.
    pub(super) fn processes(self) -> &'static str {
        match self {
            Keys::Server => "sse:presence:processes",
            Keys::Cluster => "{sse:presence}:processes",
        }
    }

    /// The key of a channel's hash of stream counts by process.
    pub(super) fn presence(self, channel: &str) -> String {
        match self {
            Keys::Server => format!("sse:presence:channel:{channel}"),
            Keys::Cluster => format!("{{sse:presence}}:channel:{channel}"),
        }
    }

    /// The command that publishes on a channel: sharded in a cluster, so that a message
    /// travels only through the shard that owns the channel.
    pub(super) fn publish(self) -> &'static str {
        match self {
            Keys::Server => "PUBLISH",
            Keys::Cluster => "SPUBLISH",
        }
    }

    /// A channel as written in its keys.
    fn channel(self, channel: &str) -> Cow<'_, str> {
        if self == Keys::Server {
            return Cow::Borrowed(channel);
        }
        // The keys' prefixes hold no brace, so a tag of the name stays the key's first.
        if hash_tag(channel.as_bytes()).is_some() {
            return Cow::Borrowed(channel);
        }
        if !channel.contains('}') {
            return Cow::Owned(format!("{{{channel}}}"));
        }
        let tag = SLOT_TAGS[usize::from(slot(channel.as_bytes()))];
        Cow::Owned(format!("{{{tag}}}{channel}"))
    }
}

/// The slot of a key: CRC16 (XMODEM) of its hash tag if it has one, else of the whole
/// key, modulo the number of slots.
pub(super) fn slot(key: &[u8]) -> u16 {
    let hashed = hash_tag(key).unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % SLOTS
}

/// What is between a key's first `{` and the first `}` after it, if that is not empty.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&byte| byte == b'{')?;
    let length = key[open + 1..].iter().position(|&byte| byte == b'}')?;
    (length > 0).then(|| &key[open + 1..open + 1 + length])
}

/// For each slot, the smallest number whose decimal digits, as a hash tag, fall in it:
/// computed once, the first time a name needs one (about 150,000 checksums of a few bytes).
static SLOT_TAGS: LazyLock<Vec<u32>> = LazyLock::new(|| {
    let mut tags = vec![u32::MAX; usize::from(SLOTS)];
    let mut missing = tags.len();
    let mut number = 0u32;
    while missing > 0 {
        let tag = &mut tags[usize::from(slot(number.to_string().as_bytes()))];
        if *tag == u32::MAX {
            *tag = number;
            missing -= 1;
        }
        number += 1;
    }
    tags
});

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &str) -> u16 {
        super::slot(key.as_bytes())
    }

    #[test]
    fn slots_are_redis_s() {
        // From the Redis Cluster specification: 12182 for `foo`; a tag decides alone.
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{foo}bar"), 12182);
        // An empty tag is no tag: the whole key counts (CRC16 of `{}foo`, by hand).
        assert_eq!(slot("{}foo"), 9500);
        assert_eq!(slot("{user1000}.following"), slot("user1000"));
        assert_eq!(slot("user1000"), 3443);
    }

    #[test]
    fn one_server_names_keys_after_the_channel() {
        assert_eq!(Keys::Server.history("room:1"), "sse:history:room:1");
        assert_eq!(Keys::Server.sent("a:b", "c"), "sse:sent:3:a:b:c");
        assert_eq!(Keys::Server.presence("a"), "sse:presence:channel:a");
    }

    #[test]
    fn a_channel_s_keys_in_a_cluster_are_in_the_slot_of_its_name() {
        for channel in [
            "room:1",
            "{user:1}:inbox",
            "a{b",
            "a}b",
            "}",
            "{}x",
            "x{}y}",
            "é{",
        ] {
            let history = Keys::Cluster.history(channel);
            assert_eq!(slot(&history), slot(channel), "{history} for {channel}");
            let sent = Keys::Cluster.sent(channel, "k}{e{y}");
            assert_eq!(slot(&sent), slot(channel), "{sent} for {channel}");
        }
        assert_eq!(Keys::Cluster.history("room:1"), "sse:history:{room:1}");
        assert_eq!(
            Keys::Cluster.history("{user:1}:inbox"),
            "sse:history:{user:1}:inbox"
        );
    }

    #[test]
    fn presence_in_a_cluster_is_in_one_slot() {
        let processes = slot(Keys::Cluster.processes());
        for channel in ["room:1", "{x}", "a}b"] {
            assert_eq!(slot(&Keys::Cluster.presence(channel)), processes);
        }
    }
}
