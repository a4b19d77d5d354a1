//! The one error type of the crate: a variant per cause, each message saying what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field that must fit on one line holds CR or LF. Sent as it is, the line break
    /// would end the field and the rest of the value would be read as fields of its own,
    /// which lets whoever chose the value forge events.
    #[error("the {0} must not contain CR or LF: remove line breaks from it, or send multi-line text as data")]
    LineBreak(Field),
    /// An id holds NUL, which browsers ignore, so the client would resume from a stale id.
    #[error("the event id must not contain NUL: browsers ignore such an id")]
    NulInId,
    /// A client sent a `Last-Event-ID` that cannot be an id this server sent.
    #[error("bad Last-Event-ID: {0}")]
    BadLastEventId(&'static str),
    /// A channel name, from a request or a program, that cannot be a channel.
    #[error("bad channel name: {0}")]
    BadChannel(&'static str),
    /// A payload that arrived on a Redis channel and cannot be read as an event.
    #[error("a payload on Redis channel `{channel}` was skipped: {reason}")]
    BadPayload {
        /// The channel it arrived on.
        channel: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Data that could not be serialized to JSON.
    #[error("the event's data cannot be serialized to JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Redis refused or could not be reached; the event was not sent.
    #[error("Redis is unavailable, the event was not sent: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis took the send and did not confirm it in time: the event may have been sent.
    /// Retrying with [`Hub::send_idempotent`](crate::Hub::send_idempotent) and the same
    /// key sends it at most once.
    #[error("Redis did not confirm the send in time, so the event may have been sent; retry with Hub::send_idempotent and the same key to send it at most once: {0}")]
    OutcomeUnknown(redis::RedisError),
    /// RabbitMQ refused or could not be reached; the event was not sent.
    #[error("RabbitMQ is unavailable, the event was not sent: {0}")]
    Amqp(String),
    /// RabbitMQ took the send and did not confirm it in time: the event may have been
    /// sent. Retrying with [`Hub::send_idempotent`](crate::Hub::send_idempotent) and the
    /// same key, from the same process, sends it at most once.
    #[error("RabbitMQ did not confirm the send in time, so the event may have been sent: {0}")]
    AmqpOutcomeUnknown(String),
    /// An event larger than the hub's maximum ([`HubBuilder::max_event`](crate::HubBuilder::max_event)).
    #[error("the event is {size} bytes, more than the hub's maximum of {max}: send a smaller event, or a reference to the data")]
    TooLarge {
        /// The bytes of its name, id and data.
        size: usize,
        /// The hub's maximum.
        max: usize,
    },
    /// The configuration cannot be used, for example an `SSE_REDIS_URL` that is no URL.
    #[error("bad configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status that answers a request this error ended.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadLastEventId(_) | Error::BadChannel(_) => StatusCode::BAD_REQUEST,
            Error::Redis(_)
            | Error::OutcomeUnknown(_)
            | Error::Amqp(_)
            | Error::AmqpOutcomeUnknown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::LineBreak(_)
            | Error::NulInId
            | Error::BadPayload { .. }
            | Error::Json(_)
            | Error::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A client's mistake is answered with its 4xx status and the reason in plain text.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

/// The fields of an event that must fit on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `event:`, the event name a browser dispatches on.
    Event,
    /// `id:`, the id a browser sends back as `Last-Event-ID`.
    Id,
    /// `:`, a comment that clients ignore.
    Comment,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Event => "event name",
            Field::Id => "event id",
            Field::Comment => "comment",
        })
    }
}
