//! One stream, read by a real HTTP/1.1 client (hyper's) and an independent SSE parser
//! (eventsource-stream), with a deadline on every read.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::http::{HeaderMap, Request, StatusCode};
use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyStream, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use sse_runtime::SseEvent;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::PATIENCE;

/// The most the parser is given at once.
const CHUNK: usize = 4096;

/// An event as a client parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The event type: `message` when the server named none.
    pub event: String,
    /// The data, its lines joined with `\n`.
    pub data: String,
    /// The last event id the stream has set, as an `EventSource` keeps it.
    pub id: String,
}

impl Received {
    /// The data parsed as JSON, or a failed test that shows it.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.data).unwrap_or_else(|error| {
            panic!(
                "sse-test: the data of `{}` is not the JSON expected ({error}): {}",
                self.event, self.data
            )
        })
    }
}

/// The events of a response body, parsed as an `EventSource` does, by an independent
/// parser (eventsource-stream): for a client of your own.
///
/// The parser copies the rest of its buffer at every line, so it is fed at most 4 KiB
/// at a time: a large write (a resumed history) would take it quadratic time.
pub fn parse_events(
    body: Incoming,
) -> impl Stream<Item = Result<eventsource_stream::Event, EventStreamError<hyper::Error>>> + Send {
    BodyStream::new(body)
        .filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(error) => Some(Err(error)),
            }
        })
        .flat_map(|data: Result<Bytes, hyper::Error>| {
            let pieces: Vec<Result<Bytes, hyper::Error>> = match data {
                Ok(data) => (0..data.len())
                    .step_by(CHUNK)
                    .map(|at| Ok(data.slice(at..(at + CHUNK).min(data.len()))))
                    .collect(),
                Err(error) => vec![Err(error)],
            };
            futures_util::stream::iter(pieces)
        })
        .eventsource()
}

type Events = Pin<
    Box<
        dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<hyper::Error>>> + Send,
    >,
>;

/// A response to a `GET`, read as a stream of events. Dropping it closes the connection.
pub struct EventStream {
    addr: SocketAddr,
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    events: Events,
    last_id: Option<String>,
    connection: JoinHandle<()>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("path", &self.path)
            .field("status", &self.status)
            .field("last_id", &self.last_id)
            .finish()
    }
}

impl EventStream {
    pub(crate) async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Self {
        let tcp = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|error| panic!("sse-test: connect to {addr}: {error}"));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("sse-test: HTTP/1 handshake");
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::get(path)
            .header("host", addr.to_string())
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .unwrap_or_else(|error| panic!("sse-test: a request for {path}: {error}"));
        let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
            .await
            .unwrap_or_else(|_| panic!("sse-test: no response to GET {path} within {PATIENCE:?}"))
            .unwrap_or_else(|error| panic!("sse-test: GET {path}: {error}"));
        let (parts, body) = response.into_parts();
        EventStream {
            addr,
            path: path.to_owned(),
            status: parts.status,
            headers: parts.headers,
            events: Box::pin(parse_events(body)),
            last_id: headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("last-event-id"))
                .map(|(_, id)| (*id).to_owned()),
            connection,
        }
    }

    pub(crate) fn expect_stream(self) -> Self {
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert!(
            self.status == StatusCode::OK && content_type == Some("text/event-stream"),
            "sse-test: GET {} answered {} ({content_type:?}), not an event stream",
            self.path,
            self.status
        );
        self
    }

    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The id of the last event that set one, as an `EventSource` would send it back.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The next event, or a failed test if none comes within [`PATIENCE`].
    pub async fn next(&mut self) -> Received {
        self.next_within(PATIENCE).await
    }

    /// The next event, or a failed test if none comes within `wait` or the stream ends.
    pub async fn next_within(&mut self, wait: Duration) -> Received {
        match self.try_next_within(wait).await {
            Some(event) => event,
            None => panic!(
                "sse-test: the stream {} ended before the next event",
                self.path
            ),
        }
    }

    /// The next event, `None` if the stream ends first, or a failed test if neither
    /// happens within `wait`.
    pub async fn try_next_within(&mut self, wait: Duration) -> Option<Received> {
        let next = tokio::time::timeout(wait, self.events.next())
            .await
            .unwrap_or_else(|_| panic!("sse-test: no event on {} within {wait:?}", self.path))?;
        let event =
            next.unwrap_or_else(|error| panic!("sse-test: a bad event on {}: {error}", self.path));
        if !event.id.is_empty() {
            self.last_id = Some(event.id.clone());
        }
        Some(Received {
            event: event.event,
            data: event.data,
            id: event.id,
        })
    }

    /// The next `count` events.
    pub async fn take(&mut self, count: usize) -> Vec<Received> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.next().await);
        }
        events
    }

    /// Fails the test unless the next event is `expected` (its name and data; an id it
    /// sets too), and returns what came.
    pub async fn expect<E: SseEvent + ?Sized>(&mut self, expected: &E) -> Received {
        let expected = expected
            .to_event()
            .unwrap_or_else(|error| panic!("sse-test: the expected event: {error}"));
        let got = self.next().await;
        assert_eq!(
            (got.event.as_str(), got.data.as_str()),
            (
                expected.name().unwrap_or("message"),
                expected.data_str().unwrap_or("")
            ),
            "sse-test: on {}",
            self.path
        );
        if let Some(id) = expected.id_str() {
            assert_eq!(got.id, id, "sse-test: the id of the event on {}", self.path);
        }
        got
    }

    /// Fails the test if an event arrives within `wait`, or the stream ends.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        if let Ok(next) = tokio::time::timeout(wait, self.events.next()).await {
            panic!(
                "sse-test: {} was to stay quiet for {wait:?}, and got {next:?}",
                self.path
            );
        }
    }

    /// Fails the test unless the stream ends within [`PATIENCE`] with no other event.
    pub async fn assert_ends(&mut self) {
        if let Some(event) = self.try_next_within(PATIENCE).await {
            panic!("sse-test: {} was to end, and sent {event:?}", self.path);
        }
    }

    /// Closes this connection and opens the stream again with the last id it saw as
    /// `Last-Event-ID`, as a browser's `EventSource` does.
    pub async fn reconnect(self) -> EventStream {
        let (addr, path, last_id) = (self.addr, self.path.clone(), self.last_id.clone());
        drop(self);
        let headers: Vec<(&str, &str)> = last_id
            .as_deref()
            .map(|id| ("last-event-id", id))
            .into_iter()
            .collect();
        EventStream::open(addr, &path, &headers)
            .await
            .expect_stream()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.connection.abort();
    }
}
