//! An event as it travels from a broker to the clients: encoded once, its bytes shared
//! by every client of the channel.

use bytes::Bytes;

use super::id::EventId;

/// An encoded event, with the id the hub gave it. An event another program published
/// has none: it is delivered live, and never moves a channel's place in its history.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) id: Option<EventId>,
    pub(crate) bytes: Bytes,
}

impl Encoded {
    /// An event the hub sent, with its id.
    pub(crate) fn issued(id: EventId, bytes: Bytes) -> Encoded {
        Encoded {
            id: Some(id),
            bytes,
        }
    }
}
