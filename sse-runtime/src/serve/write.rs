//! Writing a response: its head, then its body as it comes, each frame as one chunk.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONNECTION;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use http_body::Body as _;
use http_body_util::BodyExt;

use super::encode::Out;
use super::head::head;
use super::request::has_token;
use super::socket::{Inbound, Socket};

/// How a response ended.
pub(super) enum Written {
    /// Whole; the connection may carry another request.
    KeepAlive,
    /// The connection must close: asked to, or cut off (the client left, the body
    /// failed).
    Close,
}

/// Writes `response` to `socket`. While the body streams, whatever the client sends is
/// kept in `inbound` (a pipelined request), and the client closing the connection
/// ends the response at once.
///
/// The head is made before the future, so that the future holds only what the body's
/// streaming needs: it lives as long as the stream, in every connection's task.
pub(super) fn response<'a, S: Socket>(
    socket: &'a mut S,
    response: Response,
    keep_alive: bool,
    inbound: &'a mut Inbound,
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
    stream(socket, body, out, bodiless, keep_alive, inbound)
}

/// Writes the head in `out`, then the body as it comes.
async fn stream(
    socket: &mut impl Socket,
    mut body: Body,
    mut out: Out,
    bodiless: bool,
    keep_alive: bool,
    inbound: &mut Inbound,
) -> Written {
    // A body that is ready (a page, a JSON document) leaves with its head in one write;
    // a stream's head leaves at once, before its first event.
    let mut next = body.frame().now_or_never();
    if next.is_none() && out.send(socket).await.is_err() {
        return Written::Close;
    }
    loop {
        let mut frame = match next.take() {
            Some(frame) => frame,
            None => tokio::select! {
                biased;
                frame = body.frame() => frame,
                () = inbound.client_gone(socket) => return Written::Close,
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
        if out.send(socket).await.is_err() || failed {
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
