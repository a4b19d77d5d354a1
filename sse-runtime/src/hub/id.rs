//! Event ids: every event sent through a hub gets one, written as Redis writes stream ids,
//! `<milliseconds>-<sequence>`. The Redis broker takes the id `XADD` gives, the embedded
//! broker makes one the same way. Only the hub issues them: they order the events of a
//! channel, so a client that reconnects with `Last-Event-ID` gets what came after its id,
//! and a live event already sent from history is recognised and skipped.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The id of an event sent through a hub: `<milliseconds>-<sequence>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EventId {
    ms: u64,
    seq: u64,
}

impl EventId {
    pub(crate) const ZERO: EventId = EventId { ms: 0, seq: 0 };

    /// The id after `last`: now in milliseconds, or `last` with the next sequence if the
    /// clock has not moved past it.
    pub(crate) fn next_after(last: EventId) -> EventId {
        let now = now_ms();
        if now > last.ms {
            EventId { ms: now, seq: 0 }
        } else {
            EventId {
                ms: last.ms,
                seq: last.seq.saturating_add(1),
            }
        }
    }

    /// The id made of its two numbers, for a broker that numbers events itself.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn new(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    /// Its two numbers.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn parts(self) -> (u64, u64) {
        (self.ms, self.seq)
    }

    /// The first id of millisecond `ms`.
    pub(crate) fn at_ms(ms: u64) -> EventId {
        EventId { ms, seq: 0 }
    }

    /// Appends the id as text to `out`, without the formatting machinery: a feed writes
    /// one per channel into the id of every event it frames.
    pub(crate) fn write_to(self, out: &mut String) {
        let mut digits = itoa::Buffer::new();
        out.push_str(digits.format(self.ms));
        out.push('-');
        out.push_str(digits.format(self.seq));
    }

    /// Whether the id could have been issued by now (with a margin for clocks that
    /// disagree): an id from the far future is no id of a hub's.
    pub(crate) fn is_plausible(self) -> bool {
        self.ms <= now_ms().saturating_add(CLOCK_MARGIN_MS)
    }
}

/// How far ahead of this process's clock Redis's may be.
const CLOCK_MARGIN_MS: u64 = 24 * 60 * 60 * 1000;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back_and_order() {
        let first = EventId::next_after(EventId::ZERO);
        let second = EventId::next_after(first);
        assert!(second > first);
        assert_eq!(second.to_string().parse::<EventId>(), Ok(second));
        assert!(second.is_plausible());
        assert!(!"99999999999999-0"
            .parse::<EventId>()
            .unwrap()
            .is_plausible());
        // Redis's clock may be up to a day ahead of this process's.
        let hour = 60 * 60 * 1000;
        assert!(EventId::at_ms(now_ms() + 23 * hour).is_plausible());
        assert!(!EventId::at_ms(now_ms() + 25 * hour).is_plausible());
        // An id is the clock's millisecond, or, while the clock has not passed the last
        // id (the same millisecond, or a clock set back), the last id's next sequence.
        let before = now_ms();
        let fresh = EventId::next_after(EventId::ZERO);
        assert!(fresh.ms >= before && fresh.seq == 0, "{fresh}");
        let ahead = EventId {
            ms: before + 60_000,
            seq: 7,
        };
        let after_ahead = EventId::next_after(ahead);
        assert_eq!((after_ahead.ms, after_ahead.seq), (ahead.ms, 8));
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
}
