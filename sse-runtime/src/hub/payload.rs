//! What travels on a Redis channel, so that programs in any language can publish.
//!
//! A payload is either plain text, which arrives as the event's data (so
//! `redis-cli PUBLISH foo hello` sends data `hello`), or a JSON envelope, recognised by
//! its `"$sse"` key, that sets the other fields:
//!
//! ```json
//! {"$sse": 1, "event": "myevent", "id": "7", "data": "mydata", "retry": 3000}
//! ```
//!
//! Every key but `"$sse"` is optional. `send_event` publishes envelopes.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The JSON envelope of an event.
#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "$sse", default)]
    version: Option<u8>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    data: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<u64>,
}

/// The payload that carries `event` to every process.
#[cfg(test)]
fn encode(event: &Event) -> String {
    let id = event.id_str().unwrap_or_default();
    with_id(id, &encode_after_id(event))
}

/// The envelope of `event` as it continues after its id: `,"event":...}`, or `}`. The
/// Redis broker stores this in the channel's history and joins it to the id Redis gives
/// (see [`with_id`]).
pub(crate) fn encode_after_id(event: &Event) -> String {
    let envelope = Envelope {
        version: None,
        event: event.name().map(Cow::Borrowed),
        id: None,
        data: event.data_str().map(Cow::Borrowed),
        retry: event.retry_duration().map(|retry| retry.as_millis() as u64),
    };
    // Only strings and numbers: serializing cannot fail.
    let fields = serde_json::to_string(&envelope).unwrap_or_default();
    match fields.strip_prefix("{\"$sse\":null") {
        Some(rest) => rest.to_owned(),
        None => "}".to_owned(),
    }
}

/// The whole envelope of an event whose id is `id` and whose other fields are `rest`,
/// as [`encode_after_id`] wrote them.
pub(crate) fn with_id(id: &str, rest: &str) -> String {
    format!("{{\"$sse\":1,\"id\":{}{rest}", serde_json::Value::from(id))
}

/// The event a payload stands for, or why it stands for none.
pub(crate) fn decode(payload: &[u8]) -> Result<Event, String> {
    if payload.starts_with(b"{") {
        match serde_json::from_slice::<Envelope<'_>>(payload) {
            Ok(envelope) if envelope.version.is_some() => return from_envelope(envelope),
            Ok(_) => {}
            Err(error) if contains(payload, b"\"$sse\"") => {
                return Err(format!("a malformed envelope: {error}"));
            }
            Err(_) => {}
        }
    }
    match std::str::from_utf8(payload) {
        Ok(text) => Ok(Event::new().data(text)),
        Err(_) => Err("it is neither UTF-8 text nor an envelope".into()),
    }
}

fn from_envelope(envelope: Envelope<'_>) -> Result<Event, String> {
    if envelope.version != Some(1) {
        return Err(format!(
            "envelope version {:?} is not 1",
            envelope.version.unwrap_or_default()
        ));
    }
    let mut event = Event::new();
    if let Some(name) = envelope.event {
        event = event.try_event(name).map_err(|error| error.to_string())?;
    }
    if let Some(id) = envelope.id {
        event = event.try_id(id).map_err(|error| error.to_string())?;
    }
    if let Some(data) = envelope.data {
        event = event.data(data);
    }
    if let Some(retry) = envelope.retry {
        event = event.retry(Duration::from_millis(retry));
    }
    Ok(event)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_data() {
        assert_eq!(decode(b"hello").unwrap(), Event::new().data("hello"));
        assert_eq!(
            decode(b"{\"a\":1}").unwrap(),
            Event::new().data("{\"a\":1}")
        );
        assert!(decode(b"\xff\xfe").is_err());
    }

    #[test]
    fn an_envelope_round_trips() {
        let event = Event::new()
            .event("myevent")
            .id("7")
            .data("my\ndata")
            .retry(Duration::from_secs(3));
        assert_eq!(decode(encode(&event).as_bytes()).unwrap(), event);
    }

    #[test]
    fn hostile_envelopes_are_refused() {
        assert!(decode(br#"{"$sse":1,"event":"a\nid: 9","data":"x"}"#).is_err());
        assert!(decode(br#"{"$sse":1,"id":"a\u0000"}"#).is_err());
        assert!(decode(br#"{"$sse":2,"data":"x"}"#).is_err());
        assert!(decode(br#"{"$sse":"one","data":"x"}"#).is_err());
    }
}
