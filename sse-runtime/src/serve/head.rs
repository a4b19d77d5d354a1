//! The head of a response this server writes: status line, the app's headers, and the
//! framing headers that are the writer's to say.

use std::time::SystemTime;

use axum::http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use axum::http::response::Parts;

/// The status line and headers: the app's, a `Date` if it gave none, and the framing
/// (`length` for a body of known length, or `chunked`) and `Connection: close` that are
/// this writer's to say.
pub(super) fn head(parts: &Parts, length: Option<u64>, chunked: bool, keep_alive: bool) -> Vec<u8> {
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
