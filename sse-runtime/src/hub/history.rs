//! The embedded broker's history: the last events of each channel, for clients that
//! resume, bounded in events per channel, in channels, and in bytes across all of them.
//!
//! When a bound is reached, the channel sent to least recently gives way first: it loses
//! its oldest events (bytes) or its whole history (channels). The newest event of the
//! channel just sent to is always kept, so its id can be resumed from.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::encoded::Encoded;
use super::id::EventId;
use crate::channel::ChannelName;

/// What a history holds from an id on.
#[derive(Debug)]
pub(crate) enum Page {
    /// The id is held: the events after it, oldest first, at most as many as asked.
    After(Vec<Encoded>),
    /// The id is not held: older than what is kept, or never issued here.
    Unknown,
}

/// The bounds of a history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) per_channel: usize,
    pub(crate) channels: usize,
    pub(crate) bytes: usize,
}

pub(crate) struct Histories {
    channels: HashMap<ChannelName, Channel>,
    /// Channels by the stamp of their last send, least recent first.
    recency: BTreeMap<u64, ChannelName>,
    stamps: u64,
    bytes: usize,
    bounds: Bounds,
    last_id: EventId,
    /// Whether a whole channel's history was ever forgotten: a channel held nowhere may
    /// then have had events.
    forgot_a_channel: bool,
}

struct Channel {
    frames: VecDeque<Encoded>,
    stamp: u64,
    /// Whether an event of the channel was ever dropped.
    dropped: bool,
}

/// What an event costs the history beyond its bytes.
const FRAME_COST: usize = size_of::<Encoded>();

fn cost(frame: &Encoded) -> usize {
    frame.bytes.len() + FRAME_COST
}

impl Histories {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            channels: HashMap::new(),
            recency: BTreeMap::new(),
            stamps: 0,
            bytes: 0,
            bounds: Bounds {
                channels: bounds.channels.max(1),
                ..bounds
            },
            last_id: EventId::ZERO,
            forgot_a_channel: false,
        }
    }

    /// The id of the next event, process-wide.
    pub(crate) fn next_id(&mut self) -> EventId {
        self.last_id = EventId::next_after(self.last_id);
        self.last_id
    }

    /// Keeps `frame` as the newest event of `channel`.
    pub(crate) fn push(&mut self, channel: &ChannelName, frame: Encoded) {
        if self.bounds.per_channel == 0 {
            return;
        }
        self.stamps += 1;
        let stamp = self.stamps;
        if !self.channels.contains_key(channel) {
            while self.channels.len() >= self.bounds.channels {
                self.forget_least_recent();
            }
            let held = Channel {
                frames: VecDeque::new(),
                stamp,
                dropped: false,
            };
            self.channels.insert(channel.clone(), held);
        }
        let held = self.channels.get_mut(channel).expect("kept above");
        // The channel's name moves to its new place in the order of recency.
        let name = self
            .recency
            .remove(&held.stamp)
            .unwrap_or_else(|| channel.clone());
        held.stamp = stamp;
        self.recency.insert(stamp, name);
        self.bytes += cost(&frame);
        held.frames.push_back(frame);
        if held.frames.len() > self.bounds.per_channel {
            let oldest = held.frames.pop_front().expect("over its bound");
            self.bytes -= cost(&oldest);
            held.dropped = true;
        }
        while self.bytes > self.bounds.bytes && self.drop_oldest_of_least_recent(channel) {}
    }

    fn forget_least_recent(&mut self) {
        if let Some((_, name)) = self.recency.pop_first() {
            if let Some(held) = self.channels.remove(&name) {
                self.bytes -= held.frames.iter().map(cost).sum::<usize>();
                self.forgot_a_channel = true;
            }
        }
    }

    /// Drops one event of the channel sent to least recently, unless that is the newest
    /// event of `current`. Returns whether it dropped one.
    fn drop_oldest_of_least_recent(&mut self, current: &ChannelName) -> bool {
        let Some((&stamp, name)) = self.recency.first_key_value() else {
            return false;
        };
        let held = self
            .channels
            .get_mut(name)
            .expect("every stamp has its channel");
        if name == current && held.frames.len() <= 1 {
            return false;
        }
        if let Some(oldest) = held.frames.pop_front() {
            self.bytes -= cost(&oldest);
            held.dropped = true;
        }
        if held.frames.is_empty() {
            let name = name.clone();
            self.recency.remove(&stamp);
            self.channels.remove(&name);
            self.forgot_a_channel = true;
        }
        true
    }

    /// Up to `limit` events of `channel` after `from`, if `from` is still held.
    pub(crate) fn after(&self, channel: &str, from: EventId, limit: usize) -> Page {
        let Some(held) = self.channels.get(channel) else {
            return Page::Unknown;
        };
        match held
            .frames
            .binary_search_by(|frame| frame.id.cmp(&Some(from)))
        {
            Ok(at) => Page::After(
                held.frames
                    .iter()
                    .skip(at + 1)
                    .take(limit)
                    .cloned()
                    .collect(),
            ),
            Err(_) => Page::Unknown,
        }
    }

    /// Up to `limit` of the first events of `channel`, if none it has had was dropped.
    pub(crate) fn first_events(&self, channel: &str, limit: usize) -> Page {
        if self.bounds.per_channel == 0 {
            return Page::Unknown;
        }
        match self.channels.get(channel) {
            Some(held) if held.dropped => Page::Unknown,
            Some(held) => Page::After(held.frames.iter().take(limit).cloned().collect()),
            None if self.forgot_a_channel => Page::Unknown,
            None => Page::After(Vec::new()),
        }
    }

    /// The id of the newest event of `channel` held.
    pub(crate) fn last_id(&self, channel: &str) -> Option<EventId> {
        self.channels.get(channel)?.frames.back()?.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(id: EventId, len: usize) -> Encoded {
        Encoded::issued(id, Bytes::from(vec![b'x'; len]))
    }

    fn bounds(per_channel: usize, channels: usize, bytes: usize) -> Bounds {
        Bounds {
            per_channel,
            channels,
            bytes,
        }
    }

    fn ids(page: Page) -> Vec<EventId> {
        match page {
            Page::After(frames) => frames.iter().map(|f| f.id.unwrap()).collect(),
            Page::Unknown => panic!("unknown"),
        }
    }

    #[test]
    fn a_client_resumes_only_from_an_id_still_held_and_reads_in_pages() {
        let channel = ChannelName::new("c").unwrap();
        let mut histories = Histories::new(bounds(3, 10, usize::MAX));
        let ids_sent: Vec<EventId> = (0..5).map(|_| histories.next_id()).collect();
        for id in &ids_sent {
            histories.push(&channel, frame(*id, 1));
        }
        assert_eq!(ids(histories.after("c", ids_sent[2], 10)), ids_sent[3..]);
        assert_eq!(ids(histories.after("c", ids_sent[2], 1)), ids_sent[3..4]);
        assert!(matches!(
            histories.after("c", ids_sent[1], 10),
            Page::Unknown
        ));
        assert!(matches!(
            histories.after("c", EventId::ZERO, 10),
            Page::Unknown
        ));
        assert!(matches!(
            histories.after("other", ids_sent[4], 10),
            Page::Unknown
        ));
        assert!(ids(histories.after("c", ids_sent[4], 10)).is_empty());
    }

    #[test]
    fn the_channel_sent_to_least_recently_is_forgotten_first() {
        let mut histories = Histories::new(bounds(2, 2, usize::MAX));
        let names: Vec<ChannelName> = ["a", "b", "c"].map(|n| ChannelName::new(n).unwrap()).into();
        let id_a = histories.next_id();
        histories.push(&names[0], frame(id_a, 1));
        let id_b = histories.next_id();
        histories.push(&names[1], frame(id_b, 1));
        let id = histories.next_id();
        histories.push(&names[0], frame(id, 1));
        let id_c = histories.next_id();
        histories.push(&names[2], frame(id_c, 1));
        assert!(
            matches!(histories.after("b", id_b, 10), Page::Unknown),
            "b was forgotten"
        );
        assert!(matches!(histories.after("a", id_a, 10), Page::After(_)));
    }

    #[test]
    fn events_a_channel_drops_for_its_count_give_their_bytes_back() {
        let each = 100 + FRAME_COST;
        let mut histories = Histories::new(bounds(2, 10, 4 * each));
        let [a, b] = ["a", "b"].map(|name| ChannelName::new(name).unwrap());
        let mut sent_to_a = Vec::new();
        for _ in 0..100 {
            let id = histories.next_id();
            histories.push(&a, frame(id, 100));
            sent_to_a.push(id);
        }
        assert_eq!(histories.bytes, 2 * each, "a holds its last two");
        for _ in 0..2 {
            let id = histories.next_id();
            histories.push(&b, frame(id, 100));
        }
        assert_eq!(histories.bytes, 4 * each);
        // Within the budget: b took nothing of a's.
        let before_last = sent_to_a[98];
        assert_eq!(ids(histories.after("a", before_last, 10)), [sent_to_a[99]]);
    }

    #[test]
    fn a_channel_forgotten_for_the_channel_bound_gives_its_bytes_back() {
        let each = 100 + FRAME_COST;
        let mut histories = Histories::new(bounds(10, 2, 4 * each));
        let names = ["a", "b", "c"].map(|name| ChannelName::new(name).unwrap());
        let mut first_of = Vec::new();
        for name in &names {
            for n in 0..2 {
                let id = histories.next_id();
                histories.push(name, frame(id, 100));
                if n == 0 {
                    first_of.push(id);
                }
            }
        }
        assert_eq!(histories.bytes, 4 * each, "b and c, two events each");
        for (name, first) in ["b", "c"].iter().zip(&first_of[1..]) {
            assert_eq!(
                ids(histories.after(name, *first, 10)).len(),
                1,
                "{name} kept both"
            );
        }
    }

    /// A feed's cursor `0-0` for a channel (it held nothing when the client came) is
    /// served from the channel's first events only while none was ever let go: after a
    /// drop, or once any channel was forgotten, the start is unknown and the client is
    /// reset rather than handed a partial start.
    #[test]
    fn a_channel_s_first_events_are_known_only_while_nothing_was_let_go() {
        let mut histories = Histories::new(bounds(2, 2, usize::MAX));
        let [a, b, c] = ["a", "b", "c"].map(|name| ChannelName::new(name).unwrap());
        let first = histories.next_id();
        histories.push(&a, frame(first, 1));
        assert_eq!(ids(histories.first_events("a", 10)), [first]);
        assert!(
            ids(histories.first_events("b", 10)).is_empty(),
            "b had nothing yet"
        );
        for _ in 0..2 {
            let id = histories.next_id();
            histories.push(&a, frame(id, 1));
        }
        assert!(
            matches!(histories.first_events("a", 10), Page::Unknown),
            "a dropped its first event"
        );
        assert!(
            ids(histories.first_events("b", 10)).is_empty(),
            "no channel was forgotten yet"
        );
        for name in [&b, &c] {
            let id = histories.next_id();
            histories.push(name, frame(id, 1));
        }
        assert!(
            matches!(histories.first_events("a", 10), Page::Unknown),
            "a was forgotten for the channel bound"
        );
        assert!(
            matches!(histories.first_events("d", 10), Page::Unknown),
            "a channel held nowhere may be one forgotten"
        );
        assert_eq!(ids(histories.first_events("c", 10)).len(), 1);
    }

    #[test]
    fn bytes_are_bounded_across_channels_and_the_newest_event_stays() {
        let budget = 10 * (1000 + FRAME_COST);
        let mut histories = Histories::new(bounds(1000, 100, budget));
        let names: Vec<ChannelName> = (0..20)
            .map(|n| ChannelName::new(&format!("c{n}")).unwrap())
            .collect();
        for round in 0..50 {
            let id = histories.next_id();
            histories.push(&names[round % 20], frame(id, 1000));
            assert!(histories.bytes <= budget);
        }
        // An event larger than the whole budget is still kept, alone.
        let id = histories.next_id();
        histories.push(&names[0], frame(id, 2 * budget));
        assert_eq!(histories.bytes, 2 * budget + FRAME_COST);
        assert!(matches!(histories.after("c0", id, 10), Page::After(frames) if frames.is_empty()));
    }
}
