//! The socket of a connection: the one owner of the bytes read from it and not yet
//! answered, and the writes that wait for the client to take them. Polled by hand
//! rather than through `read().await` and `write().await`: those futures would take
//! their room in every connection's task. A socket is a TCP stream or TLS over one.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::Duration;

use axum::extract::Request;
use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::limits::Limits;
use super::request::{self, Parsed, Refusal, MAX_AHEAD};

/// What a connection is carried on: a TCP stream, or a TLS stream over one.
pub(super) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for S {}

/// How many bytes a read asks for while a request head comes.
const READ_SIZE: usize = 1024;

/// The bytes read from a connection and not answered yet: a request head, the start of
/// one, or requests pipelined behind a response.
#[derive(Default)]
pub(super) struct Inbound {
    bytes: Vec<u8>,
}

/// What the client sent next.
pub(super) enum Next {
    /// A GET this server answers, and whether the connection stays open after it.
    Simple(Box<Request>, bool),
    /// Anything else: hyper answers it and the rest of the connection.
    Other,
    /// Refused before the app sees it: answered, then the connection is closed.
    Refused(Refusal),
    /// HTTP/2 with prior knowledge: hyper's HTTP/2 server answers the connection.
    Http2,
    /// The client closed the connection, or started no request within the idle timeout.
    Closed,
}

impl Inbound {
    /// Reads until the bytes start with a whole request head, and takes it off; within
    /// the idle timeout until its first byte, and the header timeout from it.
    pub(super) async fn next_request(
        &mut self,
        socket: &mut impl Socket,
        limits: &Limits,
    ) -> io::Result<Next> {
        let pending = &mut self.bytes;
        // The timer runs only while the client keeps the server waiting; whether it is the
        // header timer (a head has started) or the idle one.
        let mut waiting: Option<(bool, Pin<Box<Sleep>>)> = None;
        poll_fn(|cx| loop {
            if !pending.is_empty() {
                match request::parse(pending, limits.max_head) {
                    Parsed::Partial => {}
                    Parsed::Simple {
                        request,
                        keep_alive,
                        len,
                    } => {
                        pending.drain(..len);
                        return Poll::Ready(Ok(Next::Simple(request, keep_alive)));
                    }
                    Parsed::Other => return Poll::Ready(Ok(Next::Other)),
                    Parsed::Refused(refusal) => return Poll::Ready(Ok(Next::Refused(refusal))),
                    Parsed::Http2 => return Poll::Ready(Ok(Next::Http2)),
                }
            }
            let filled = pending.len();
            pending.resize(filled + READ_SIZE, 0);
            let mut buf = ReadBuf::new(&mut pending[filled..]);
            let read = Pin::new(&mut *socket).poll_read(cx, &mut buf);
            let read_len = buf.filled().len();
            pending.truncate(filled + read_len);
            match read {
                Poll::Ready(Ok(())) if read_len == 0 => return Poll::Ready(Ok(Next::Closed)),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    let started = !pending.is_empty();
                    if !started {
                        // A connection waiting for its next request keeps no buffer.
                        *pending = Vec::new();
                    }
                    if waiting
                        .as_ref()
                        .is_none_or(|(header, _)| *header != started)
                    {
                        let wait = if started { limits.header } else { limits.idle };
                        waiting = Some((started, Box::pin(tokio::time::sleep(wait))));
                    }
                    if let Some((_, timer)) = &mut waiting {
                        ready!(timer.as_mut().poll(cx));
                    }
                    return Poll::Ready(Ok(match started {
                        true => Next::Refused(Refusal::TimedOut),
                        false => Next::Closed,
                    }));
                }
            }
        })
        .await
    }

    /// Keeps no buffer while nothing is pending: a stream may stay open for hours.
    pub(super) fn shrink(&mut self) {
        if self.bytes.is_empty() {
            self.bytes = Vec::new();
        }
    }

    /// The bytes, for whoever serves the rest of the connection.
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Completes when the client closes its side of the connection (or sends more than a
    /// request head's worth of bytes while the response streams).
    pub(super) async fn client_gone(&mut self, socket: &mut impl Socket) {
        let pending = &mut self.bytes;
        poll_fn(|cx| loop {
            let mut chunk = [0u8; 512];
            let mut buf = ReadBuf::new(&mut chunk);
            match ready!(Pin::new(&mut *socket).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(()),
                Ok(()) if pending.len() + buf.filled().len() > MAX_AHEAD => return Poll::Ready(()),
                Ok(()) => pending.extend_from_slice(buf.filled()),
                Err(_) => return Poll::Ready(()),
            }
        })
        .await
    }
}

/// Writes all of `buf`, its pieces in one `writev` where the socket takes them, and
/// flushes it (TLS keeps what it encrypted until then); fails if the client takes none
/// of it for `timeout`.
///
/// Polled by hand rather than through `write_all().await`, as is `client_gone`: the
/// futures would take their room in every connection's task. The timer exists only
/// while the client is not reading.
pub(super) async fn write_all(
    socket: &mut impl Socket,
    mut buf: impl Buf,
    timeout: Duration,
) -> io::Result<()> {
    let mut stalled: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| loop {
        let socket = Pin::new(&mut *socket);
        let progress = if buf.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 8];
            let count = buf.chunks_vectored(&mut slices);
            match socket.poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    buf.advance(written);
                    Poll::Ready(())
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            }
        } else {
            match socket.poll_flush(cx) {
                Poll::Ready(result) => return Poll::Ready(result),
                Poll::Pending => Poll::Pending,
            }
        };
        match progress {
            Poll::Ready(()) => stalled = None,
            Poll::Pending => {
                let deadline = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(deadline.as_mut().poll(cx));
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
        }
    })
    .await
}
