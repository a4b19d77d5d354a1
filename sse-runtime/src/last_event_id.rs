//! The `Last-Event-ID` a reconnecting client sends, as an extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Uri;

use crate::error::Error;

/// The longest `Last-Event-ID` accepted, in bytes; a longer one is answered with 400.
pub const MAX_LAST_EVENT_ID_LEN: usize = 256;

/// The id of the last event a client received, from its `Last-Event-ID` header, or from
/// a `lastEventId` query parameter for clients that cannot set headers.
///
/// `None` on a first connection, and for an empty value (what a browser's id is after an
/// event reset it: it then sends no header). A value that is not UTF-8, holds CR, LF or
/// NUL, or is longer than [`MAX_LAST_EVENT_ID_LEN`] is refused with `400 Bad Request`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// The id, if the client sent one.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The id parsed as a `T`, if the client sent one that parses.
    pub fn parse<T: std::str::FromStr>(&self) -> Option<T> {
        self.as_str()?.parse().ok()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        LastEventId::read(parts)
    }
}

impl LastEventId {
    /// The id the request carries, or why it is refused.
    pub(crate) fn read(parts: &Parts) -> Result<Self, Error> {
        Self::read_within(parts, MAX_LAST_EVENT_ID_LEN)
    }

    /// The id the request carries, at most `longest` bytes, or why it is refused.
    pub(crate) fn read_within(parts: &Parts, longest: usize) -> Result<Self, Error> {
        let raw = match parts.headers.get("last-event-id") {
            Some(value) => Some(
                std::str::from_utf8(value.as_bytes())
                    .map_err(|_| Error::BadLastEventId("it is not UTF-8"))?
                    .to_owned(),
            ),
            None => from_query(&parts.uri)?,
        };
        let Some(id) = raw.filter(|id| !id.is_empty()) else {
            return Ok(LastEventId(None));
        };
        if id.len() > longest {
            return Err(Error::BadLastEventId(match longest {
                MAX_LAST_EVENT_ID_LEN => "it is longer than 256 bytes",
                _ => "it is longer than the cursor of a stream of the most channels",
            }));
        }
        if id.contains(['\r', '\n', '\0']) {
            return Err(Error::BadLastEventId("it holds CR, LF or NUL"));
        }
        Ok(LastEventId(Some(id)))
    }
}

#[derive(serde::Deserialize)]
struct Query {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// The `lastEventId` parameter of a query string, percent-decoded.
fn from_query(uri: &Uri) -> Result<Option<String>, Error> {
    axum::extract::Query::<Query>::try_from_uri(uri)
        .map(|query| query.0.last_event_id)
        .map_err(|_| Error::BadLastEventId("the query string cannot be decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Result<Option<String>, Error> {
        from_query(&format!("/x?{text}").parse().unwrap())
    }

    #[test]
    fn the_query_parameter_is_decoded() {
        assert_eq!(
            query("a=1&lastEventId=4%202").unwrap().as_deref(),
            Some("4 2")
        );
        assert_eq!(query("a=1").unwrap(), None);
        // Broken UTF-8 in a query decodes lossily, to an id this server never sent.
        assert_eq!(
            query("lastEventId=%ff").unwrap().as_deref(),
            Some("\u{fffd}")
        );
    }
}
