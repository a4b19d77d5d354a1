//! Event ids and the bounded history that lets a client resume.
//!
//! Every event sent through a hub gets an id written as Redis writes stream ids,
//! `<milliseconds>-<sequence>`: the Redis broker takes the id `XADD` gives, the embedded
//! broker makes one the same way. Ids order the events of a channel, so a client that
//! reconnects with `Last-Event-ID` gets what came after its id, and a live event already
//! sent from history is recognised and skipped.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::channel::ChannelName;

/// The id of an event sent through a hub: `<milliseconds>-<sequence>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EventId {
    ms: u64,
    seq: u64,
}

impl EventId {
    /// The id after `last`: now in milliseconds, or `last` with the next sequence if the
    /// clock has not moved past it.
    pub(crate) fn next_after(last: EventId) -> EventId {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_millis() as u64);
        if now > last.ms {
            EventId { ms: now, seq: 0 }
        } else {
            EventId {
                ms: last.ms,
                seq: last.seq + 1,
            }
        }
    }

    pub(crate) const ZERO: EventId = EventId { ms: 0, seq: 0 };
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EventId {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (ms, seq) = text.split_once('-').ok_or(())?;
        let digits = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            part.parse::<u64>().map_err(|_| ())
        };
        Ok(EventId {
            ms: digits(ms)?,
            seq: digits(seq)?,
        })
    }
}

/// An encoded event as it travels from the broker to the clients, with its id when it
/// has one (an event another program published as plain text has none).
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) id: Option<EventId>,
    pub(crate) bytes: Bytes,
}

/// What a client that reconnects with a `Last-Event-ID` can get.
#[derive(Debug)]
pub(crate) enum Resume {
    /// The events after its id, oldest first.
    After(Vec<Frame>),
    /// Its id is not in the history: older than what is kept, or never issued here.
    Unknown,
}

/// The last events of each channel the embedded broker was sent, bounded both in events
/// per channel and in channels (the channel sent to least recently is forgotten first).
pub(crate) struct Histories {
    channels: HashMap<ChannelName, VecDeque<Frame>>,
    /// Channels in the order they were last sent to, for eviction.
    recency: VecDeque<ChannelName>,
    per_channel: usize,
    max_channels: usize,
    last_id: EventId,
}

impl Histories {
    pub(crate) fn new(per_channel: usize, max_channels: usize) -> Self {
        Self {
            channels: HashMap::new(),
            recency: VecDeque::new(),
            per_channel,
            max_channels: max_channels.max(1),
            last_id: EventId::ZERO,
        }
    }

    /// The id of the next event, process-wide.
    pub(crate) fn next_id(&mut self) -> EventId {
        self.last_id = EventId::next_after(self.last_id);
        self.last_id
    }

    /// Keeps `frame` as the newest event of `channel`.
    pub(crate) fn push(&mut self, channel: &ChannelName, frame: Frame) {
        if self.per_channel == 0 {
            return;
        }
        if !self.channels.contains_key(channel) {
            while self.channels.len() >= self.max_channels {
                match self.recency.pop_front() {
                    Some(oldest) => self.channels.remove(&oldest),
                    None => break,
                };
            }
            self.channels.insert(channel.clone(), VecDeque::new());
        } else if let Some(at) = self.recency.iter().position(|name| name == channel) {
            self.recency.remove(at);
        }
        self.recency.push_back(channel.clone());
        let events = self.channels.entry(channel.clone()).or_default();
        if events.len() == self.per_channel {
            events.pop_front();
        }
        events.push_back(frame);
    }

    /// The events of `channel` after `last`, if `last` is still kept.
    pub(crate) fn after(&self, channel: &str, last: EventId) -> Resume {
        let Some(events) = self.channels.get(channel) else {
            return Resume::Unknown;
        };
        match events.binary_search_by(|frame| frame.id.cmp(&Some(last))) {
            Ok(at) => Resume::After(events.iter().skip(at + 1).cloned().collect()),
            Err(_) => Resume::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: EventId) -> Frame {
        Frame {
            id: Some(id),
            bytes: Bytes::from(id.to_string()),
        }
    }

    #[test]
    fn ids_parse_back_and_order() {
        let first = EventId::next_after(EventId::ZERO);
        let second = EventId::next_after(first);
        assert!(second > first);
        assert_eq!(second.to_string().parse::<EventId>(), Ok(second));
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-2-3",
            "+1-2",
            "99999999999999999999-0",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_resumes_only_from_an_id_still_kept() {
        let channel = ChannelName::new("c").unwrap();
        let mut histories = Histories::new(3, 10);
        let ids: Vec<EventId> = (0..5).map(|_| histories.next_id()).collect();
        for id in &ids {
            histories.push(&channel, frame(*id));
        }
        let Resume::After(events) = histories.after("c", ids[2]) else {
            panic!("id 2 is kept")
        };
        assert_eq!(
            events.iter().map(|f| f.id.unwrap()).collect::<Vec<_>>(),
            ids[3..]
        );
        assert!(
            matches!(histories.after("c", ids[1]), Resume::Unknown),
            "trimmed"
        );
        assert!(
            matches!(histories.after("c", EventId::ZERO), Resume::Unknown),
            "never issued"
        );
        assert!(matches!(histories.after("other", ids[4]), Resume::Unknown));
        assert!(matches!(histories.after("c", ids[4]), Resume::After(events) if events.is_empty()));
    }

    #[test]
    fn the_channel_sent_to_least_recently_is_forgotten_first() {
        let mut histories = Histories::new(2, 2);
        let names: Vec<ChannelName> = ["a", "b", "c"].map(|n| ChannelName::new(n).unwrap()).into();
        let id_a = histories.next_id();
        histories.push(&names[0], frame(id_a));
        let id_b = histories.next_id();
        histories.push(&names[1], frame(id_b));
        histories.push(&names[0], frame(histories.last_id));
        let id_c = histories.next_id();
        histories.push(&names[2], frame(id_c));
        assert!(
            matches!(histories.after("b", id_b), Resume::Unknown),
            "b was forgotten"
        );
        assert!(matches!(histories.after("a", id_a), Resume::After(_)));
    }
}
