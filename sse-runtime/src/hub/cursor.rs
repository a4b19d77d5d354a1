//! A feed's cursor: where its client is in each of the stream's channels, written as the
//! id of every event the hub issued, so that the `Last-Event-ID` a browser sends back
//! resumes every channel at once.
//!
//! One entry per channel, joined by `,`: the channel's hash, `:`, and the id of the last
//! event of that channel the client has, or `0-0` if the channel held no event when the
//! client came: `1f2e3d4c:1732800000000-0,9a8b7c6d:0-0`. The hash (FNV-1a, 32 bits, 8
//! hex digits) names a channel in a fixed size whatever its name's length, so a cursor
//! is at most [`ENTRY_MAX`] bytes a channel.

use super::id::EventId;

/// The longest entry: the hash, `:`, an id of two 20-digit numbers, and the `,`.
pub(crate) const ENTRY_MAX: usize = 8 + 1 + 20 + 1 + 20 + 1;

/// A parsed cursor: each channel's hash with its position.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    entries: Vec<(u32, EventId)>,
}

impl Cursor {
    /// Reads a cursor; `None` if `text` is not one.
    pub(crate) fn parse(text: &str) -> Option<Cursor> {
        let entries = text
            .split(',')
            .map(|entry| {
                let (hash, id) = entry.split_once(':')?;
                let hex = hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit());
                let hash = u32::from_str_radix(hash, 16).ok().filter(|_| hex)?;
                Some((hash, id.parse().ok()?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Cursor { entries })
    }

    /// The position of the channel with `hash`, if the cursor has it.
    pub(crate) fn position(&self, hash: u32) -> Option<EventId> {
        self.entries
            .iter()
            .find(|(entry, _)| *entry == hash)
            .map(|(_, id)| *id)
    }
}

/// Writes the cursor of channels with these hashes at these positions. (Once per event
/// per client of a feed: written digit by digit, not through `write!`.)
pub(crate) fn write(out: &mut String, entries: impl Iterator<Item = (u32, EventId)>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (index, (hash, position)) in entries.enumerate() {
        if index > 0 {
            out.push(',');
        }
        for shift in (0..8).rev() {
            out.push(HEX[(hash >> (shift * 4)) as usize & 0xf] as char);
        }
        out.push(':');
        position.write_to(out);
    }
}

/// A channel's hash in a cursor: 32-bit FNV-1a of its name, the same in every process
/// and version.
pub(crate) fn channel_hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_was_written() {
        let (a, b) = (channel_hash("news"), channel_hash("user:7"));
        let one: EventId = "1732800000000-3".parse().unwrap();
        let mut text = String::new();
        write(&mut text, [(a, one), (b, EventId::ZERO)].into_iter());
        assert_eq!(text, format!("{a:08x}:1732800000000-3,{b:08x}:0-0"));
        let cursor = Cursor::parse(&text).unwrap();
        assert_eq!(cursor.position(a), Some(one));
        assert_eq!(cursor.position(b), Some(EventId::ZERO));
        assert_eq!(cursor.position(channel_hash("other")), None);
    }

    #[test]
    fn an_entry_is_the_hash_in_eight_hex_digits_and_the_id_in_decimal() {
        let id: EventId = "18446744073709551615-10".parse().unwrap();
        for hash in [0, 1, 0xa, 0xabc, 0x0f0f_0f0f, 0x8000_0000, u32::MAX] {
            let mut text = String::new();
            write(&mut text, [(hash, id)].into_iter());
            assert_eq!(text, format!("{hash:08x}:18446744073709551615-10"));
        }
    }

    #[test]
    fn fnv_1a_is_the_published_function() {
        // The reference values of FNV-1a, 32 bits.
        assert_eq!(channel_hash(""), 0x811c_9dc5);
        assert_eq!(channel_hash("a"), 0xe40c_292c);
        assert_eq!(channel_hash("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn what_is_no_cursor_is_refused() {
        for bad in [
            "",
            "1732800000000-3",
            "abc:1-0",
            "0000000g:1-0",
            "00000001:1",
            "00000001:1-0,",
            "+0000001:1-0",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_longest_entry_fits_its_bound() {
        let mut text = String::new();
        let most = format!("{}-{}", u64::MAX, u64::MAX).parse().unwrap();
        write(&mut text, [(u32::MAX, most), (0, most)].into_iter());
        assert!(text.len() <= 2 * ENTRY_MAX);
    }
}
