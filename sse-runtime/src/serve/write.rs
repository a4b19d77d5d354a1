//! Writing a response: its head, then its body as it comes, each frame as one chunk.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use axum::http::response::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::request::{has_token, MAX_HEAD};

/// How a response ended.
pub(super) enum Written {
    /// Whole; the connection may carry another request.
    KeepAlive,
    /// The connection must close: asked to, or cut off (the client left, the body
    /// failed).
    Close,
}

/// Writes `response` to `tcp`. While the body streams, whatever the client sends is
/// kept in `pending` (a pipelined request), and the client closing the connection
/// ends the response at once.
///
/// The head is made before the future, so that the future holds only what the body's
/// streaming needs: it lives as long as the stream, in every connection's task.
pub(super) fn response<'a>(
    tcp: &'a TcpStream,
    response: Response,
    keep_alive: bool,
    pending: &'a mut Vec<u8>,
    write_timeout: Duration,
) -> impl Future<Output = Written> + 'a {
    let (parts, body) = response.into_parts();
    let keep_alive = keep_alive
        && !parts
            .headers
            .get(CONNECTION)
            .is_some_and(|value| has_token(value, "close"));
    let status = parts.status;
    let bodiless = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    let length = body.size_hint().exact();
    let chunked = !bodiless && length.is_none();

    let head = head(&parts, length.filter(|_| !bodiless), chunked, keep_alive);
    let out = Out {
        head: Some(Bytes::from(head)),
        chunked,
        one: None,
        many: BytesMut::new(),
        end: false,
        write_timeout,
    };
    stream(tcp, body, out, bodiless, keep_alive, pending)
}

/// Writes the head in `out`, then the body as it comes.
async fn stream(
    tcp: &TcpStream,
    mut body: Body,
    mut out: Out,
    bodiless: bool,
    keep_alive: bool,
    pending: &mut Vec<u8>,
) -> Written {
    // A body that is ready (a page, a JSON document) leaves with its head in one write;
    // a stream's head leaves at once, before its first event.
    let mut next = body.frame().now_or_never();
    if next.is_none() && out.send(tcp).await.is_err() {
        return Written::Close;
    }
    loop {
        let mut frame = match next.take() {
            Some(frame) => frame,
            None => tokio::select! {
                biased;
                frame = body.frame() => frame,
                () = client_gone(tcp, pending) => return Written::Close,
            },
        };
        // Every frame ready now goes out in the same write, up to `WRITE_MAX` bytes.
        let failed = loop {
            match frame {
                None => {
                    out.end = true;
                    break false;
                }
                Some(Ok(frame)) => {
                    // Trailers have nothing to write.
                    if let (Ok(data), false) = (frame.into_data(), bodiless) {
                        out.push(data);
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "a response body failed; closing its connection");
                    break true;
                }
            }
            if out.is_full() {
                break false;
            }
            match body.frame().now_or_never() {
                Some(more) => frame = more,
                None => break false,
            }
        };
        // What the body made before it failed still goes out.
        if out.send(tcp).await.is_err() || failed {
            return Written::Close;
        }
        if out.end {
            break;
        }
    }
    match keep_alive {
        true => Written::KeepAlive,
        false => Written::Close,
    }
}

/// The most bytes of body gathered into one write.
const WRITE_MAX: usize = 64 * 1024;

/// What the next write carries: the head, until it has gone out, then the body frames
/// that were ready together (each its own chunk, when chunked), then the end of a
/// chunked body once it has come.
struct Out {
    head: Option<Bytes>,
    chunked: bool,
    /// A lone frame, written from its own bytes: the usual event of a stream.
    one: Option<Bytes>,
    /// Several frames, copied together.
    many: BytesMut,
    end: bool,
    /// How long the client may take none of a write.
    write_timeout: Duration,
}

impl Out {
    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        match self.one.take() {
            None if self.many.is_empty() => self.one = Some(data),
            first => {
                for data in first.iter().chain([&data]) {
                    if self.chunked {
                        let mut size = [0; CHUNK_SIZE_LEN];
                        self.many.put_slice(chunk_size(data.len(), &mut size));
                    }
                    self.many.put_slice(data);
                    if self.chunked {
                        self.many.put_slice(b"\r\n");
                    }
                }
            }
        }
    }

    fn is_full(&self) -> bool {
        self.many.len() >= WRITE_MAX
    }

    /// Writes what there is, and empties it.
    async fn send(&mut self, tcp: &TcpStream) -> io::Result<()> {
        let head = self.head.take().unwrap_or_default();
        let timeout = self.write_timeout;
        let end: &[u8] = match (self.end, self.chunked) {
            (true, true) => b"0\r\n\r\n",
            _ => b"",
        };
        match self.one.take() {
            Some(one) if self.chunked => {
                let mut size = [0; CHUNK_SIZE_LEN];
                let size = chunk_size(one.len(), &mut size);
                let frame = size.chain(one).chain(&b"\r\n"[..]);
                write_all(tcp, head.chain(frame).chain(end), timeout).await
            }
            Some(one) => write_all(tcp, head.chain(one).chain(end), timeout).await,
            // Taken whole, so that an idle stream keeps no buffer.
            None => {
                let many = std::mem::take(&mut self.many);
                write_all(tcp, head.chain(many).chain(end), timeout).await
            }
        }
    }
}

/// The status line and headers: the app's, a `Date` if it gave none, and the framing
/// (`length` for a body of known length, or `chunked`) and `Connection: close` that are
/// this writer's to say.
fn head(parts: &Parts, length: Option<u64>, chunked: bool, keep_alive: bool) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        // The framing is this writer's to say, and so is `close`.
        let ours = name == CONTENT_LENGTH
            || name == TRANSFER_ENCODING
            || (name == CONNECTION && !keep_alive);
        if !ours {
            line(&mut head, name.as_str(), value.as_bytes());
        }
    }
    if !parts.headers.contains_key(DATE) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        line(&mut head, DATE.as_str(), date.as_bytes());
    }
    if chunked {
        line(&mut head, TRANSFER_ENCODING.as_str(), b"chunked");
    } else if let Some(length) = length {
        let length = length.to_string();
        line(&mut head, CONTENT_LENGTH.as_str(), length.as_bytes());
    }
    if !keep_alive {
        line(&mut head, CONNECTION.as_str(), b"close");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn line(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

const CHUNK_SIZE_LEN: usize = 2 * size_of::<usize>() + 2;

/// The line that opens a chunk of `len` bytes: its size in hexadecimal, then CRLF.
fn chunk_size(len: usize, line: &mut [u8; CHUNK_SIZE_LEN]) -> &[u8] {
    let mut at = CHUNK_SIZE_LEN - 2;
    line[at..].copy_from_slice(b"\r\n");
    let mut rest = len;
    loop {
        at -= 1;
        line[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            return &line[at..];
        }
    }
}

/// Writes all of `buf`, its pieces in one `writev` where the socket takes them; fails
/// if the client takes none of it for `timeout`.
///
/// Polled by hand rather than through `writable().await`, as is `client_gone`: the
/// futures of readiness would take their room in every connection's task. The timer
/// exists only while the client is not reading.
async fn write_all(tcp: &TcpStream, mut buf: impl Buf, timeout: Duration) -> io::Result<()> {
    let mut stalled: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        while buf.has_remaining() {
            if tcp.poll_write_ready(cx)?.is_pending() {
                let deadline = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(deadline.as_mut().poll(cx));
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
            let mut slices = [IoSlice::new(&[]); 8];
            let count = buf.chunks_vectored(&mut slices);
            match tcp.try_write_vectored(&slices[..count]) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(written) => {
                    buf.advance(written);
                    stalled = None;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        Poll::Ready(Ok(()))
    })
    .await
}

/// Completes when the client closes its side of the connection (or sends more than a
/// request head's worth of bytes while the response streams).
async fn client_gone(tcp: &TcpStream, pending: &mut Vec<u8>) {
    poll_fn(|cx| loop {
        if ready!(tcp.poll_read_ready(cx)).is_err() {
            return Poll::Ready(());
        }
        let mut chunk = [0u8; 512];
        match tcp.try_read(&mut chunk) {
            Ok(0) => return Poll::Ready(()),
            Ok(read) if pending.len() + read > MAX_HEAD => return Poll::Ready(()),
            Ok(read) => pending.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Poll::Ready(()),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_hexadecimal() {
        let mut line = [0; CHUNK_SIZE_LEN];
        for (len, expected) in [(0, "0"), (9, "9"), (26, "1a"), (4096, "1000")] {
            assert_eq!(
                chunk_size(len, &mut line),
                format!("{expected}\r\n").as_bytes()
            );
        }
        let max = chunk_size(usize::MAX, &mut line).to_vec();
        assert_eq!(max, format!("{:x}\r\n", usize::MAX).as_bytes());
    }
}
