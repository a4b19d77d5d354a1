//! Channel names: the one rule for what a channel may be called, checked before any
//! broker sees a name, whether it comes from a request, a resolver or the program, and
//! at compile time for the names and templates an `#[sse_view]` attribute writes.

use std::fmt;

use crate::error::Error;

/// The longest channel name accepted, in bytes.
pub const MAX_CHANNEL_LEN: usize = 256;

/// Why a name cannot be a channel: each way of breaking the rule, with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    Empty,
    TooLong,
    ControlOrSpace,
    Slash,
    Pattern,
}

impl Broken {
    /// The reason, as a sentence part: "bad channel name: {reason}".
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Broken::Empty => "it is empty",
            Broken::TooLong => "it is longer than 256 bytes",
            Broken::ControlOrSpace => "it holds a control character or white space",
            Broken::Slash => "it holds `/` or `\\`",
            Broken::Pattern => "it holds a pattern character (`*`, `?`, `[` or `]`)",
        }
    }
}

/// The rule: 1 to 256 bytes; no control characters or white space (Unicode's); none of
/// Redis's pattern characters (`*`, `?`, `[`, `]`), so a name never widens into a
/// pattern subscription; no `/` or `\`, so it never passes for a path. A `const fn`, so
/// that the macros check literal names with the very same code at compile time.
pub(crate) const fn check(name: &str) -> Result<(), Broken> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(Broken::Empty);
    }
    if bytes.len() > MAX_CHANNEL_LEN {
        return Err(Broken::TooLong);
    }
    check_text(bytes)
}

/// The rule's part about characters, for a name or a piece of a template.
pub(crate) const fn check_text(bytes: &[u8]) -> Result<(), Broken> {
    let mut at = 0;
    while at < bytes.len() {
        let (c, len) = decode(bytes, at);
        if is_control_or_space(c) {
            return Err(Broken::ControlOrSpace);
        }
        if c == '/' || c == '\\' {
            return Err(Broken::Slash);
        }
        if c == '*' || c == '?' || c == '[' || c == ']' {
            return Err(Broken::Pattern);
        }
        at += len;
    }
    Ok(())
}

/// The character at `at` of valid UTF-8, and its length in bytes.
const fn decode(bytes: &[u8], at: usize) -> (char, usize) {
    let first = bytes[at] as u32;
    let (mut code, len) = match first {
        0x00..=0x7f => return (first as u8 as char, 1),
        0xc0..=0xdf => (first & 0x1f, 2),
        0xe0..=0xef => (first & 0x0f, 3),
        _ => (first & 0x07, 4),
    };
    let mut i = 1;
    while i < len {
        code = (code << 6) | (bytes[at + i] as u32 & 0x3f);
        i += 1;
    }
    match char::from_u32(code) {
        Some(c) => (c, len),
        None => ('\u{fffd}', len),
    }
}

/// `char::is_control() || char::is_whitespace()`, in a `const fn`.
const fn is_control_or_space(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{20}' | '\u{7f}'..='\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// A channel name that is safe to subscribe to: 1 to 256 bytes; no control characters or
/// white space; none of Redis's pattern characters (`*`, `?`, `[`, `]`), so a name never
/// widens into a pattern subscription; no `/` or `\`, so it never passes for a path.
/// Redis's own convention, `room:kitchen`, is the way to give a channel parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Box<str>);

impl ChannelName {
    /// Checks `name`, or says why it cannot be a channel.
    pub fn new(name: &str) -> Result<Self, Error> {
        match check(name) {
            Ok(()) => Ok(ChannelName(name.into())),
            Err(broken) => Err(Error::BadChannel(broken.reason())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ChannelName {
    type Error = Error;

    fn try_from(name: &str) -> Result<Self, Error> {
        ChannelName::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        let long = "x".repeat(257);
        for name in [
            "",
            "a*",
            "?",
            "[x]",
            "a]",
            "a\nb",
            "\0",
            "../etc",
            "a\\b",
            "a b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{85}b",
            &long,
        ] {
            assert!(ChannelName::new(name).is_err(), "{name:?}");
        }
        for name in [
            "foo",
            "room:kitchen",
            "a.b-c_d",
            "ünï",
            "日本",
            "🎉",
            &"x".repeat(256),
        ] {
            assert_eq!(ChannelName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn the_const_rule_agrees_with_the_standard_library_on_every_char() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(
                is_control_or_space(c),
                c.is_control() || c.is_whitespace(),
                "{c:?}"
            );
            let mut buf = [0; 4];
            let text = c.encode_utf8(&mut buf);
            assert_eq!(decode(text.as_bytes(), 0), (c, text.len()));
        }
    }
}
