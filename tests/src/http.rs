//! A router served on a loopback port, and a real HTTP/1.1 client (hyper's) that reads
//! a stream the way a browser does.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a test waits for something that should come at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Serves `app` with `sse_runtime::serve` on a free port of 127.0.0.1, until the test
/// ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { sse_runtime::serve(listener, app).await.expect("serve") });
    addr
}

/// One client connection holding one response. Dropping it closes the connection.
pub struct Client {
    /// The status of the response.
    pub status: StatusCode,
    /// The headers of the response.
    pub headers: HeaderMap,
    body: Incoming,
    connection: Connection,
}

/// The task that drives a client connection; dropping it closes the connection.
struct Connection(JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Client {
    /// Opens a connection to `addr` and sends `GET path` with the given headers.
    pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        Client::get_on(tcp, addr, path, headers).await
    }

    /// Sends `GET path` with the given headers on a connection to `addr` the test opened
    /// itself (with a small receive buffer, say).
    pub async fn get_on(
        tcp: TcpStream,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Client {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("HTTP/1 handshake");
        let connection = Connection(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let mut request = Request::get(path).header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::<Bytes>::new()).expect("request");
        let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
            .await
            .expect("response headers in time")
            .expect("response");
        let (parts, body) = response.into_parts();
        Client {
            status: parts.status,
            headers: parts.headers,
            body,
            connection,
        }
    }

    /// The next body frame as the server wrote it, `None` at the end of the body, or a
    /// panic if none comes within `wait`.
    pub async fn frame_within(&mut self, wait: Duration) -> Option<Bytes> {
        loop {
            let frame = tokio::time::timeout(wait, self.body.frame())
                .await
                .expect("a frame in time")?
                .expect("a body frame");
            if let Ok(data) = frame.into_data() {
                return Some(data);
            }
        }
    }

    /// The next body frame, or `None` at the end of the body or when `wait` passes first.
    pub async fn try_frame_within(&mut self, wait: Duration) -> Option<Bytes> {
        match tokio::time::timeout(wait, self.body.frame()).await {
            Ok(Some(Ok(frame))) => frame.into_data().ok(),
            _ => None,
        }
    }

    /// The rest of a body that ends (a refusal's reason, a page), as text; within
    /// [`PATIENCE`], or the test fails.
    pub async fn text(self) -> String {
        let body = tokio::time::timeout(PATIENCE, self.body.collect())
            .await
            .expect("the whole body in time")
            .expect("a body that ends cleanly");
        String::from_utf8_lossy(&body.to_bytes()).into_owned()
    }

    /// The rest of the body, as events parsed by the independent parser.
    pub fn events(
        self,
    ) -> impl Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Unpin {
        let Client {
            body, connection, ..
        } = self;
        // The connection lives as long as the stream.
        Box::pin(sse_test::parse_events(body).map(move |event| {
            let _open = &connection;
            event
        }))
    }
}

/// Reads `count` events from `events`, failing the test if they take longer than
/// [`PATIENCE`] in all.
pub async fn take_events(
    events: &mut (impl Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Unpin),
    count: usize,
) -> Vec<Event> {
    take_events_within(events, count, PATIENCE).await
}

/// Reads `count` events from `events`, failing the test if they take longer than `wait`
/// in all.
pub async fn take_events_within(
    events: &mut (impl Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Unpin),
    count: usize,
    wait: Duration,
) -> Vec<Event> {
    let read = async {
        let mut got = Vec::with_capacity(count);
        while got.len() < count {
            match events.next().await {
                Some(event) => got.push(event.expect("a well-formed event")),
                None => break,
            }
        }
        got
    };
    tokio::time::timeout(wait, read)
        .await
        .expect("events in time")
}

/// The next event of `events`, or `None` where the server ended the stream. A stream
/// silent for `stall` or garbled fails the test, never passing for one that ended; `who`
/// says whose it is.
pub async fn next_event(
    events: &mut (impl Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Unpin),
    stall: Duration,
    who: &str,
) -> Option<Event> {
    match tokio::time::timeout(stall, events.next()).await {
        Ok(Some(Ok(event))) => Some(event),
        Ok(None) => None,
        Ok(Some(Err(error))) => panic!("{who}: a garbled stream: {error}"),
        Err(_) => panic!("{who}: the stream stalled for {stall:?}"),
    }
}

/// The whole events in `bytes`, a stream's body read to its end, by the independent
/// parser; an event cut off at the end is not one.
pub async fn events_in(bytes: &[u8]) -> Vec<Event> {
    let body = Bytes::copy_from_slice(bytes);
    futures_util::stream::iter([Ok::<_, std::io::Error>(body)])
        .eventsource()
        .map(|event| event.expect("the parser takes any bytes"))
        .collect()
        .await
}
