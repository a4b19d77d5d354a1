//! Events encoded here and parsed back by an independent SSE parser (`eventsource-stream`)
//! come back as the WHATWG standard says they must.

use bytes::Bytes;
use eventsource_stream::{Event as Parsed, Eventsource};
use futures_util::{stream, FutureExt, StreamExt};
use proptest::prelude::*;
use sse_runtime::Event;
use std::time::Duration;

/// Parses the bytes, delivered in the given chunks, with the independent parser.
fn parse(chunks: Vec<Bytes>) -> Vec<Parsed> {
    stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>))
        .eventsource()
        .map(|event| event.expect("the parser accepts what we encode"))
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("a stream of ready chunks parses at once")
}

/// What a standard client reads from `data`: every line break becomes LF.
fn normalized(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// Cuts `bytes` at the given fractions of its length, as a network might.
fn chunked(bytes: &[u8], cuts: &[f64]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|cut| (cut * bytes.len() as f64) as usize)
        .collect();
    at.extend([0, bytes.len()]);
    at.sort_unstable();
    at.windows(2)
        .map(|pair| Bytes::copy_from_slice(&bytes[pair[0]..pair[1]]))
        .collect()
}

fn one_line() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z :\t]{0,8}"]
        .prop_map(|text| text.replace(['\r', '\n', '\0'], "_"))
}

fn multi_line() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ab :\r\n]{0,16}", unicode_lines()]
}

/// Any characters mixed with CR, LF and CRLF: the breaks where a multi-byte character
/// ends or begins.
fn unicode_lines() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => any::<char>().prop_map(String::from),
            1 => Just("\r\n".to_owned()),
            1 => Just("\r".to_owned()),
            1 => Just("\n".to_owned()),
        ],
        0..48,
    )
    .prop_map(|pieces| pieces.concat())
}

/// Cut points anywhere in the wire: a few, many, or between every byte.
fn cuts() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        proptest::collection::vec(0.0..1.0f64, 0..4),
        proptest::collection::vec(0.0..1.0f64, 0..64),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    name: Option<String>,
    data: String,
    id: Option<String>,
    retry: Option<u32>,
    comment: Option<String>,
}

impl Spec {
    fn event(&self) -> Event {
        let mut event = Event::new().data(self.data.clone());
        if let Some(name) = &self.name {
            event = event.event(name.clone());
        }
        if let Some(id) = &self.id {
            event = event.id(id.clone());
        }
        if let Some(retry) = self.retry {
            event = event.retry(Duration::from_millis(retry.into()));
        }
        if let Some(comment) = &self.comment {
            event = event.comment(comment.clone());
        }
        event
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::option::of(one_line()),
        multi_line(),
        proptest::option::of(one_line()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(one_line()),
    )
        .prop_map(|(name, data, id, retry, comment)| Spec {
            name,
            data,
            id,
            retry,
            comment,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn what_we_encode_parses_back_identical(
        specs in proptest::collection::vec(spec(), 1..4),
        cuts in cuts(),
    ) {
        let wire: Vec<u8> = specs.iter().flat_map(|spec| spec.event().encode()).collect();
        let parsed = parse(chunked(&wire, &cuts));
        prop_assert_eq!(parsed.len(), specs.len());
        let mut last_id = String::new();
        for (spec, parsed) in specs.iter().zip(&parsed) {
            if let Some(id) = &spec.id {
                last_id = id.clone();
            }
            let name = spec.name.as_deref().filter(|name| !name.is_empty()).unwrap_or("message");
            prop_assert_eq!(&parsed.event, name);
            prop_assert_eq!(&parsed.data, &normalized(&spec.data));
            prop_assert_eq!(&parsed.id, &last_id);
            prop_assert_eq!(parsed.retry, spec.retry.map(|ms| Duration::from_millis(ms.into())));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Data up to 1 MiB, of any characters and line breaks, fed to the parser in pieces
    /// as a network delivers it (4 KiB at most: the parser copies its buffer at every
    /// line, so a whole megabyte at once would take it quadratic time).
    #[test]
    fn large_data_parses_back_identical(
        unit in unicode_lines(),
        repeat in 1usize..20_000,
        cuts in proptest::collection::vec(0.0..1.0f64, 0..8),
    ) {
        let mut data = unit.repeat(repeat);
        if data.len() > 1 << 20 {
            let mut end = 1 << 20;
            while !data.is_char_boundary(end) {
                end -= 1;
            }
            data.truncate(end);
        }
        let wire = Event::new().event("big").data(data.clone()).encode();
        let mut chunks = Vec::new();
        for chunk in chunked(&wire, &cuts) {
            for at in (0..chunk.len()).step_by(4096) {
                chunks.push(chunk.slice(at..(at + 4096).min(chunk.len())));
            }
        }
        let parsed = parse(chunks);
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(&parsed[0].data, &normalized(&data));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// A name, id or comment with a line break (or an id with NUL) is refused by the
    /// `try_` setters, never written; everything else is taken as it is.
    #[test]
    fn line_breaks_in_single_line_fields_are_refused(text in multi_line()) {
        let breaks = text.contains(['\r', '\n']);
        match Event::new().try_event(text.clone()) {
            Ok(event) => {
                prop_assert!(!breaks);
                prop_assert_eq!(event.name(), Some(text.as_str()));
            }
            Err(_) => prop_assert!(breaks),
        }
        match Event::new().try_id(text.clone()) {
            Ok(event) => {
                prop_assert!(!breaks && !text.contains('\0'));
                prop_assert_eq!(event.id_str(), Some(text.as_str()));
            }
            Err(_) => prop_assert!(breaks || text.contains('\0')),
        }
        match Event::new().try_comment(text.clone()) {
            Ok(event) => {
                prop_assert!(!breaks);
                // A comment is one line a client skips: nothing of it is an event.
                let parsed = parse(vec![event.data("x").encode()]);
                prop_assert_eq!(parsed.len(), 1);
                prop_assert_eq!(&parsed[0].data, "x");
            }
            Err(_) => prop_assert!(breaks),
        }
    }
}

fn data_round_trip(data: &str) -> String {
    let events = parse(vec![Event::new().data(data).encode()]);
    assert_eq!(events.len(), 1, "one event for {data:?}");
    events.into_iter().next().unwrap().data
}

#[test]
fn empty_data_is_an_event_with_empty_data() {
    assert_eq!(data_round_trip(""), "");
}

#[test]
fn data_of_only_line_breaks_keeps_every_line() {
    assert_eq!(data_round_trip("\n"), "\n");
    assert_eq!(data_round_trip("\n\n\n"), "\n\n\n");
    assert_eq!(data_round_trip("\r\n\r\r\n"), "\n\n\n");
}

#[test]
fn a_trailing_cr_comes_back_as_lf() {
    assert_eq!(data_round_trip("end\r"), "end\n");
}

#[test]
fn crlf_is_one_line_break_even_when_the_wire_splits_it() {
    let wire = Event::new().data("a\r\nb").encode();
    assert_eq!(&wire[..], b"data: a\ndata: b\n\n");
    let split = wire.len() / 2;
    let events = parse(vec![wire.slice(..split), wire.slice(split..)]);
    assert_eq!(events[0].data, "a\nb");
}

#[test]
fn non_ascii_text_is_untouched() {
    let text = "grüße, 世界 🦀\u{2028}\u{85}";
    assert_eq!(data_round_trip(text), text);
    let events = parse(vec![Event::new()
        .event("ünïcödé")
        .id("ид")
        .data("x")
        .encode()]);
    assert_eq!(events[0].event, "ünïcödé");
    assert_eq!(events[0].id, "ид");
}

#[test]
fn a_one_mebibyte_data_field_arrives_whole() {
    let line = "x".repeat(1023);
    let data = vec![line.as_str(); 1024].join("\n");
    assert_eq!(data.len(), 1024 * 1024 - 1);
    assert_eq!(data_round_trip(&data), data);
}

#[test]
fn a_comment_only_event_dispatches_nothing() {
    let mut wire = Event::new().comment("just a comment").encode().to_vec();
    wire.extend_from_slice(&Event::new().data("after").encode());
    let events = parse(vec![wire.into()]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "after");
}

#[test]
fn a_retry_only_event_dispatches_nothing() {
    let wire = Event::new().retry(Duration::from_secs(2)).encode();
    assert_eq!(&wire[..], b"retry: 2000\n\n");
    assert!(parse(vec![wire]).is_empty());
}

#[test]
fn a_value_starting_with_a_space_keeps_it() {
    let events = parse(vec![Event::new().event(" spaced").data("  two").encode()]);
    assert_eq!(events[0].event, " spaced");
    assert_eq!(events[0].data, "  two");
}
