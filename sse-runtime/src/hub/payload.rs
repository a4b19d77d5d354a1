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

    use futures_util::{stream, FutureExt, StreamExt};
    use proptest::prelude::*;

    /// What a standard client makes of `bytes`.
    fn parse(bytes: bytes::Bytes) -> Vec<eventsource_stream::Event> {
        use eventsource_stream::Eventsource;
        stream::iter([Ok::<_, std::convert::Infallible>(bytes)])
            .eventsource()
            .map(|event| event.expect("well-formed"))
            .collect::<Vec<_>>()
            .now_or_never()
            .expect("ready")
    }

    fn envelope_json(event: Option<&str>, id: Option<&str>, data: Option<&str>) -> String {
        let mut object = serde_json::Map::new();
        object.insert("$sse".into(), 1.into());
        for (key, value) in [("event", event), ("id", id), ("data", data)] {
            if let Some(value) = value {
                object.insert(key.into(), value.into());
            }
        }
        serde_json::Value::Object(object).to_string()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        /// Whatever arrives from Redis, decoding never panics, and what it lets through
        /// is exactly one event on the wire: a payload cannot forge a second one.
        #[test]
        fn any_payload_is_one_event_or_refused(payload in prop_oneof![
            any::<Vec<u8>>(),
            any::<String>().prop_map(String::into_bytes),
            "\\{\"\\$sse\":1(,\"(event|id|data|retry)\":(\"[a-z\\\\n\\\\r\\\\u0000: ]{0,6}\"|[0-9]{1,3}|null)){0,4}\\}"
                .prop_map(String::into_bytes),
        ]) {
            if let Ok(event) = decode(&payload) {
                let parsed = parse(event.encode());
                prop_assert!(parsed.len() <= 1, "{parsed:?}");
                if let (Some(data), Some(parsed)) = (event.data_str(), parsed.first()) {
                    prop_assert_eq!(&parsed.data, &data.replace("\r\n", "\n").replace('\r', "\n"));
                }
            }
        }

        /// An envelope carries its fields exactly, or is refused if a one-line field
        /// holds a line break or the id a NUL.
        #[test]
        fn envelopes_carry_their_fields(
            event in proptest::option::of(any::<String>()),
            id in proptest::option::of(any::<String>()),
            data in proptest::option::of(any::<String>()),
        ) {
            let json = envelope_json(event.as_deref(), id.as_deref(), data.as_deref());
            let breaks = |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains(['\r', '\n']));
            let forged = breaks(&event) || breaks(&id) || id.as_deref().is_some_and(|t| t.contains('\0'));
            match decode(json.as_bytes()) {
                Err(_) => prop_assert!(forged),
                Ok(decoded) => {
                    prop_assert!(!forged);
                    prop_assert_eq!(decoded.name(), event.as_deref());
                    prop_assert_eq!(decoded.id_str(), id.as_deref());
                    prop_assert_eq!(decoded.data_str(), data.as_deref());
                }
            }
        }
    }
}
