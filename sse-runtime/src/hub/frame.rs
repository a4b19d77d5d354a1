//! An event as it travels from a broker to the clients: encoded once, shared by all.

use bytes::Bytes;

use super::id::EventId;

/// An encoded event, with the id the hub gave it. An event another program published
/// has none: it is delivered live, and never moves a channel's place in its history.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) id: Option<EventId>,
    pub(crate) bytes: Bytes,
}

impl Frame {
    /// An event the hub sent, with its id.
    pub(crate) fn issued(id: EventId, bytes: Bytes) -> Frame {
        Frame {
            id: Some(id),
            bytes,
        }
    }
}
