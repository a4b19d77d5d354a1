//! The one error type of the crate: a variant per cause, each message saying what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::event::Field;

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
}

impl Error {
    /// The HTTP status that answers a request this error ended.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadLastEventId(_) => StatusCode::BAD_REQUEST,
            Error::LineBreak(_) | Error::NulInId => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A client's mistake is answered with its 4xx status and the reason in plain text.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}
