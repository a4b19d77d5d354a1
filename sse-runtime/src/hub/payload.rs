//! What travels on a Redis channel, so that programs in any language can publish.
//!
//! A payload is plain text, which arrives as the event's data (so
//! `redis-cli PUBLISH foo hello` sends data `hello`); django-sse's own
//! `json.dumps([event, data])`, which arrives as event `event` with data `data`; or a JSON
//! envelope, recognised by its `"$sse"` key, that sets the other fields:
//!
//! ```json
//! {"$sse": 1, "event": "myevent", "data": "mydata", "retry": 3000}
//! ```
//!
//! Every key but `"$sse"` is optional. Ids belong to the hub: an `"id"` key is ignored,
//! so that what another program publishes never moves a client's `Last-Event-ID` away
//! from the ids the hub can resume from. The hub's own envelopes carry the id Redis gave
//! them as `"$id"`, a key reserved for it.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::encoded::Encoded;
use super::id::EventId;
use crate::error::Error;
use crate::event::Event;

/// The JSON envelope of an event, as read.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "$sse", default)]
    version: Option<u8>,
    #[serde(
        rename = "$id",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    hub_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    data: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<u64>,
}

/// An event read from a payload, with the id the hub gave it, if it is the hub's.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) event: Event,
    pub(crate) id: Option<EventId>,
}

/// How the hub's envelope starts, before its id, and what follows the id: the Redis
/// send script joins `BEFORE_ID`, the id `XADD` gave, `AFTER_ID` and what
/// [`encode_after_id`] made, and so does [`with_id`] for the events of history. The
/// one place that writes envelopes.
pub(crate) const BEFORE_ID: &str = "{\"$sse\":1,\"$id\":\"";
pub(crate) const AFTER_ID: &str = "\"";

/// The envelope of `event` as it continues after its id: `,"event":...}`, or `}`. The
/// Redis broker stores this in the channel's history and joins it to the id Redis gives.
pub(crate) fn encode_after_id(event: &Event) -> String {
    let mut rest = String::new();
    // Strings and numbers only: writing them as JSON cannot fail.
    let mut field = |key: &str, value: serde_json::Value| {
        rest.push_str(&format!(",\"{key}\":{value}"));
    };
    if let Some(name) = event.name() {
        field("event", name.into());
    }
    if let Some(data) = event.data_str() {
        field("data", data.into());
    }
    if let Some(retry) = event.retry_duration() {
        field("retry", (retry.as_millis() as u64).into());
    }
    rest.push('}');
    rest
}

/// The whole envelope of an event whose id is `id` and whose other fields are `rest`,
/// as [`encode_after_id`] wrote them.
pub(crate) fn with_id(id: &str, rest: &str) -> String {
    // Stream ids are digits and `-`: nothing to escape.
    [BEFORE_ID, id, AFTER_ID, rest].concat()
}

/// The event a payload stands for, or why it stands for none.
pub(crate) fn decode(payload: &[u8]) -> Result<Decoded, String> {
    if payload.starts_with(b"[") {
        if let Some(decoded) = from_seed(payload) {
            return decoded;
        }
    }
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
        Ok(text) => Ok(Decoded {
            event: Event::new().data(text),
            id: None,
        }),
        Err(_) => Err("it is neither UTF-8 text nor an envelope".into()),
    }
}

fn from_envelope(envelope: Envelope<'_>) -> Result<Decoded, String> {
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
    let id = match envelope.hub_id {
        None => None,
        Some(id) => match id.parse::<EventId>() {
            Ok(id) if id.is_plausible() => Some(id),
            Ok(_) => {
                return Err(format!(
                    "its `$id` {id:.32} is from the future: no id of a hub's"
                ))
            }
            Err(()) => return Err(format!("its `$id` {id:.32} is no id of a hub's")),
        },
    };
    if let Some(id) = id {
        event = event.id(id.to_string());
    }
    if let Some(data) = envelope.data {
        event = event.data(data);
    }
    if let Some(retry) = envelope.retry {
        event = event.retry(Duration::from_millis(retry));
    }
    Ok(Decoded { event, id })
}

/// django-sse 0.4.1's own wire format: its `send_event(event, data, channel)` publishes
/// `json.dumps([event, data])`. A JSON array of a string and one value is that event:
/// the string names it, a string value is its data as it is, any other value its JSON
/// text. `None` if the payload is not such an array (it is then plain text).
fn from_seed(payload: &[u8]) -> Option<Result<Decoded, String>> {
    let (name, data) = serde_json::from_slice::<(Cow<'_, str>, serde_json::Value)>(payload).ok()?;
    let event = match Event::new().try_event(name) {
        Ok(event) => event,
        Err(error) => return Some(Err(format!("django-sse's [event, data]: {error}"))),
    };
    let data = match data {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    Some(Ok(Decoded {
        event: event.data(data),
        id: None,
    }))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Decodes a payload once and encodes it for the clients; a payload that is no event, or
/// is larger than `max` bytes, is logged and skipped, and the stream goes on.
pub(crate) fn encoded(channel: &str, payload: &[u8], max: usize) -> Option<Encoded> {
    let too_large = |len| format!("it is {len} bytes, more than the hub's maximum event of {max}");
    // Not even decoded if no escaping could bring it within the maximum.
    let decoded = match payload.len() {
        len if len > max.saturating_mul(6).saturating_add(ENVELOPE_ROOM) => Err(too_large(len)),
        _ => decode(payload).and_then(|decoded| match decoded.event.text_len() {
            len if len > max => Err(too_large(len)),
            _ => Ok(decoded),
        }),
    };
    match decoded {
        Ok(Decoded { event, id }) => Some(Encoded {
            id,
            bytes: event.encode(),
        }),
        Err(reason) => {
            let error = Error::BadPayload {
                channel: channel.into(),
                reason,
            };
            tracing::warn!(%error);
            None
        }
    }
}

/// What an envelope adds to an event's text beside escapes: its keys and quotes.
const ENVELOPE_ROOM: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload that carries `event`, as the hub sends it with `id`.
    fn encode(id: EventId, event: &Event) -> String {
        with_id(&id.to_string(), &encode_after_id(event))
    }

    fn event_of(payload: &[u8]) -> Event {
        decode(payload).expect("an event").event
    }

    #[test]
    fn plain_text_is_data() {
        assert_eq!(event_of(b"hello"), Event::new().data("hello"));
        assert_eq!(event_of(b"{\"a\":1}"), Event::new().data("{\"a\":1}"));
        assert!(decode(b"\xff\xfe").is_err());
    }

    #[test]
    fn django_sse_payloads_are_their_event_and_data() {
        // What Python's `json.dumps([event, data])` writes.
        assert_eq!(
            event_of(br#"["myevent", "mydata"]"#),
            Event::new().event("myevent").data("mydata")
        );
        assert_eq!(
            event_of(br#"["greeting", "h\u00e9llo\nw\u00f6rld"]"#),
            Event::new().event("greeting").data("héllo\nwörld")
        );
        assert_eq!(
            event_of(br#"["score", {"home": 2}]"#),
            Event::new().event("score").data(r#"{"home":2}"#)
        );
        // A line break in the name would forge a field: refused, not sent.
        assert!(decode(br#"["a\nid: 9", "x"]"#).is_err());
        // Other arrays are plain text, as before.
        assert_eq!(event_of(b"[1, 2, 3]"), Event::new().data("[1, 2, 3]"));
        assert_eq!(
            event_of(br#"["a", "b", "c"]"#),
            Event::new().data(r#"["a", "b", "c"]"#)
        );
    }

    #[test]
    fn an_envelope_of_the_hub_round_trips_with_its_id() {
        let event = Event::new()
            .event("myevent")
            .data("my\ndata")
            .retry(Duration::from_secs(3));
        let id: EventId = "1700000000000-3".parse().unwrap();
        let decoded = decode(encode(id, &event).as_bytes()).unwrap();
        assert_eq!(decoded.id, Some(id));
        assert_eq!(decoded.event, event.id("1700000000000-3"));
    }

    #[test]
    fn ids_of_other_programs_are_ignored_and_forged_hub_ids_refused() {
        let decoded = decode(br#"{"$sse":1,"id":"99999999999999-0","data":"x"}"#).unwrap();
        assert_eq!((decoded.id, decoded.event), (None, Event::new().data("x")));
        assert!(decode(br#"{"$sse":1,"$id":"99999999999999-0","data":"x"}"#).is_err());
        assert!(decode(br#"{"$sse":1,"$id":"7","data":"x"}"#).is_err());
    }

    #[test]
    fn text_that_only_starts_like_json_is_plain_text() {
        assert_eq!(event_of(b"{oops"), Event::new().data("{oops"));
        assert_eq!(event_of(b"[1, oops"), Event::new().data("[1, oops"));
        // Unless it names `$sse`: then it meant to be an envelope, and is refused.
        assert!(decode(br#"{"$sse":1, oops"#).is_err());
    }

    #[test]
    fn a_foreign_event_of_the_maximum_is_carried_and_one_byte_more_is_skipped() {
        let max = 100;
        assert!(encoded("c", &[b'x'; 100], max).is_some());
        assert!(encoded("c", &[b'x'; 101], max).is_none());
        // A payload is decoded, and judged by the text it carries, up to six bytes a
        // byte of the maximum (escapes) and an envelope's room; past that it is skipped
        // unread, whatever it carries.
        let padded = |len: usize| {
            let start = r#"{"$sse":1,"data":"x""#;
            format!("{start}{}}}", " ".repeat(len - start.len() - 1))
        };
        let longest = max * 6 + ENVELOPE_ROOM;
        assert_eq!(padded(longest).len(), longest);
        let carried = encoded("c", padded(longest).as_bytes(), max).expect("carried");
        assert_eq!(&carried.bytes[..], b"data: x\n\n");
        assert!(encoded("c", padded(longest + 1).as_bytes(), max).is_none());
    }

    #[test]
    fn hostile_envelopes_are_refused() {
        assert!(decode(br#"{"$sse":1,"event":"a\nid: 9","data":"x"}"#).is_err());
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
            if let Ok(Decoded { event, .. }) = decode(&payload) {
                let parsed = parse(event.encode());
                prop_assert!(parsed.len() <= 1, "{parsed:?}");
                if let (Some(data), Some(parsed)) = (event.data_str(), parsed.first()) {
                    prop_assert_eq!(&parsed.data, &data.replace("\r\n", "\n").replace('\r', "\n"));
                }
            }
        }

        /// An envelope carries its fields exactly, or is refused if its event name holds
        /// a line break; its `id` is ignored.
        #[test]
        fn envelopes_carry_their_fields(
            event in proptest::option::of(any::<String>()),
            id in proptest::option::of(any::<String>()),
            data in proptest::option::of(any::<String>()),
        ) {
            let json = envelope_json(event.as_deref(), id.as_deref(), data.as_deref());
            let breaks = |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains(['\r', '\n']));
            let forged = breaks(&event);
            match decode(json.as_bytes()) {
                Err(_) => prop_assert!(forged),
                Ok(Decoded { event: decoded, id: hub_id }) => {
                    prop_assert!(!forged);
                    prop_assert_eq!(hub_id, None);
                    prop_assert_eq!(decoded.name(), event.as_deref());
                    prop_assert_eq!(decoded.id_str(), None);
                    prop_assert_eq!(decoded.data_str(), data.as_deref());
                }
            }
        }
    }
}
