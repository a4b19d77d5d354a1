//! One event of the `text/event-stream` format, and its encoding into bytes.
//!
//! The rules are those of the WHATWG HTML standard, section "Server-sent events":
//! a field ends at CR, LF or CRLF, so data holding line breaks becomes several `data:`
//! lines, and every other field must hold none (or it would end early and let the rest
//! of the value forge a field of its own).

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Field};

/// An event to send to a client: name, data, id, retry and comment, each optional.
///
/// Build one with the setters, then [`encode`](Event::encode) it once and send the same
/// bytes to every client. Setting a field again replaces it.
///
/// The setters that take text which must fit on one line (`event`, `id`, `comment`) come
/// in two forms: one that panics, for literals and values your program made, and a `try_`
/// form that returns an [`Error`], for values that come from clients, Redis or other
/// programs.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::Event;
///
/// let event = Event::new()
///     .event("greeting")
///     .id("7")
///     .retry(Duration::from_secs(3))
///     .data("hello\nworld");
/// assert_eq!(
///     &event.encode()[..],
///     b"event: greeting\nid: 7\nretry: 3000\ndata: hello\ndata: world\n\n"
/// );
/// ```
///
/// A browser dispatches an event only if it has data: an event with only a name, an id
/// or a retry updates the client's state but fires no listener.
#[must_use]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

impl Event {
    /// An event with no field set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the event name, which picks the `addEventListener` listener in a browser
    /// (the default name there is `message`).
    ///
    /// # Panics
    ///
    /// If `name` holds CR or LF. Use [`try_event`](Event::try_event) for names that come
    /// from outside the program.
    pub fn event(self, name: impl Into<String>) -> Self {
        self.try_event(name)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Sets the event name, or fails if it holds CR or LF.
    pub fn try_event(mut self, name: impl Into<String>) -> Result<Self, Error> {
        self.event = Some(one_line(Field::Event, name.into())?);
        Ok(self)
    }

    /// Sets the data. Line breaks (LF, CR or CRLF) are allowed: each line goes out as a
    /// `data:` line of its own and a client reads the text back with LF between lines.
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets the id, which a browser sends back as `Last-Event-ID` when it reconnects.
    ///
    /// # Panics
    ///
    /// If `id` holds CR, LF or NUL. Use [`try_id`](Event::try_id) for ids that come from
    /// outside the program.
    pub fn id(self, id: impl Into<String>) -> Self {
        self.try_id(id).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Sets the id, or fails if it holds CR, LF or NUL.
    pub fn try_id(mut self, id: impl Into<String>) -> Result<Self, Error> {
        let id = one_line(Field::Id, id.into())?;
        if id.contains('\0') {
            return Err(Error::NulInId);
        }
        self.id = Some(id);
        Ok(self)
    }

    /// Sets the time a browser waits before it reconnects, sent in whole milliseconds.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets a comment, which clients ignore: useful to keep a connection busy or to
    /// annotate a stream for someone reading it with `curl`.
    ///
    /// # Panics
    ///
    /// If `comment` holds CR or LF. Use [`try_comment`](Event::try_comment) for text that
    /// comes from outside the program.
    pub fn comment(self, comment: impl Into<String>) -> Self {
        self.try_comment(comment)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Sets a comment, or fails if it holds CR or LF.
    pub fn try_comment(mut self, comment: impl Into<String>) -> Result<Self, Error> {
        self.comment = Some(one_line(Field::Comment, comment.into())?);
        Ok(self)
    }

    /// The event name, if set.
    pub fn name(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The data, if set.
    pub fn data_str(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The id, if set.
    pub fn id_str(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The reconnection time, if set.
    pub fn retry_duration(&self) -> Option<Duration> {
        self.retry
    }

    /// Sets the data to `value` serialized as JSON.
    pub fn json_data<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        Ok(self.data(serde_json::to_string(value)?))
    }

    /// Encodes the event into the bytes that go on the wire, ending with the blank line
    /// that tells a client to dispatch it.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut buf);
        buf.freeze()
    }

    /// Encodes the event with `id` in place of its own: how a hub stamps the id it gives.
    pub(crate) fn encode_with_id(&self, id: &str) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len_hint() + id.len());
        self.encode_fields(&mut buf, Some(id));
        buf.freeze()
    }

    /// Appends the encoded event to `buf`.
    pub(crate) fn encode_into(&self, buf: &mut BytesMut) {
        self.encode_fields(buf, self.id.as_deref());
    }

    fn encode_fields(&self, buf: &mut BytesMut, id: Option<&str>) {
        if let Some(comment) = &self.comment {
            buf.put_u8(b':');
            buf.put_slice(comment.as_bytes());
            buf.put_u8(b'\n');
        }
        if let Some(name) = &self.event {
            put_field(buf, "event", name);
        }
        if let Some(id) = id {
            put_field(buf, "id", id);
        }
        if let Some(retry) = self.retry {
            put_field(buf, "retry", &retry.as_millis().to_string());
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                put_field(buf, "data", line);
            }
        }
        buf.put_u8(b'\n');
    }

    /// The bytes of text the event carries: its name, id, data and comment. What a hub's
    /// maximum event size counts.
    pub(crate) fn text_len(&self) -> usize {
        [&self.event, &self.id, &self.data, &self.comment]
            .into_iter()
            .map(|text| text.as_ref().map_or(0, String::len))
            .sum()
    }

    fn encoded_len_hint(&self) -> usize {
        let text = |field: &Option<String>| field.as_ref().map_or(0, |s| s.len() + 8);
        // Every data line costs "data: " and a newline; most events have one or two.
        text(&self.event) + text(&self.id) + text(&self.comment) + text(&self.data) + 24
    }
}

/// Encodes the seed's `add_message(event, data)` straight into `buf`, without building an
/// [`Event`] first.
pub(crate) fn encode_message(buf: &mut BytesMut, name: &str, data: &str) -> Result<(), Error> {
    if name.contains(['\r', '\n']) {
        return Err(Error::LineBreak(Field::Event));
    }
    put_field(buf, "event", name);
    for line in lines(data) {
        put_field(buf, "data", line);
    }
    buf.put_u8(b'\n');
    Ok(())
}

fn one_line(field: Field, value: String) -> Result<String, Error> {
    if value.contains(['\r', '\n']) {
        Err(Error::LineBreak(field))
    } else {
        Ok(value)
    }
}

fn put_field(buf: &mut BytesMut, name: &str, value: &str) {
    buf.reserve(name.len() + value.len() + 3);
    buf.put_slice(name.as_bytes());
    // The space keeps a value that starts with a space intact: a parser drops one.
    buf.put_slice(b": ");
    buf.put_slice(value.as_bytes());
    buf.put_u8(b'\n');
}

/// The lines of `text`, split at CRLF, lone CR and lone LF, as an SSE parser splits them.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(text)
            }
            Some(at) => {
                let break_len = if text[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[at + break_len..]);
                Some(&text[..at])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(event: &Event) -> String {
        String::from_utf8(event.encode().to_vec()).unwrap()
    }

    #[test]
    fn line_breaks_of_every_kind_split_data() {
        let event = Event::new().data("a\nb\rc\r\nd");
        assert_eq!(wire(&event), "data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn trailing_and_lone_breaks_keep_their_empty_lines() {
        assert_eq!(wire(&Event::new().data("")), "data: \n\n");
        assert_eq!(wire(&Event::new().data("\n")), "data: \ndata: \n\n");
        assert_eq!(wire(&Event::new().data("x\r")), "data: x\ndata: \n\n");
    }

    #[test]
    fn one_line_fields_refuse_line_breaks() {
        assert!(matches!(
            Event::new().try_event("a\nb"),
            Err(Error::LineBreak(Field::Event))
        ));
        assert!(matches!(
            Event::new().try_id("1\r"),
            Err(Error::LineBreak(Field::Id))
        ));
        assert!(matches!(
            Event::new().try_comment("x\r\ny"),
            Err(Error::LineBreak(Field::Comment))
        ));
        assert!(matches!(Event::new().try_id("1\0"), Err(Error::NulInId)));
    }

    #[test]
    #[should_panic(expected = "event name")]
    fn the_panicking_setter_names_the_field() {
        let _ = Event::new().event("forged\ndata: x");
    }

    #[test]
    fn comment_only_and_retry_only_events() {
        assert_eq!(wire(&Event::new().comment("hi")), ":hi\n\n");
        assert_eq!(
            wire(&Event::new().retry(Duration::from_millis(1500))),
            "retry: 1500\n\n"
        );
    }

    #[test]
    fn a_message_encodes_like_the_event_it_stands_for() {
        let mut buf = BytesMut::new();
        encode_message(&mut buf, "time", "1\n2").unwrap();
        assert_eq!(buf, Event::new().event("time").data("1\n2").encode());
        assert!(encode_message(&mut buf, "a\rb", "x").is_err());
    }
}
