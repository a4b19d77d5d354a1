//! Channel names, checked before any broker sees them.

use std::fmt;

use crate::error::Error;

/// The longest channel name accepted, in bytes.
pub const MAX_CHANNEL_LEN: usize = 256;

/// A channel name that is safe to subscribe to: 1 to 256 bytes, no control characters or
/// white space, none of Redis's pattern characters (`*`, `?`, `[`, `]`), so a name that
/// comes from a request can never widen into a pattern subscription, and no `/` or `\`,
/// so it can never pass for a path. Redis's own convention, `room:kitchen`, is the way to
/// give a channel parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Box<str>);

impl ChannelName {
    /// Checks `name`, or says why it cannot be a channel.
    pub fn new(name: &str) -> Result<Self, Error> {
        let refuse = |reason| Err(Error::BadChannel(reason));
        if name.is_empty() {
            return refuse("it is empty");
        }
        if name.len() > MAX_CHANNEL_LEN {
            return refuse("it is longer than 256 bytes");
        }
        if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return refuse("it holds a control character or white space");
        }
        if name.contains(['/', '\\']) {
            return refuse("it holds `/` or `\\`");
        }
        if name.contains(['*', '?', '[', ']']) {
            return refuse("it holds a pattern character (`*`, `?`, `[` or `]`)");
        }
        Ok(ChannelName(name.into()))
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
        for name in ["", "a*", "?", "[x]", "a\nb", "\0", "../etc", "a b", &long] {
            assert!(ChannelName::new(name).is_err(), "{name:?}");
        }
        for name in ["foo", "room:kitchen", "a.b-c_d", "ünï", &"x".repeat(256)] {
            assert_eq!(ChannelName::new(name).unwrap().as_str(), name);
        }
    }
}
