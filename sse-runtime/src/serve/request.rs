//! Reading a request head off the connection, and deciding who answers it.

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING, UPGRADE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// The longest request head answered here; a longer one goes to hyper, which answers
/// `431`.
pub(super) const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// What the bytes read so far hold.
pub(super) enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A GET with no body over HTTP/1.1, answered here. `len` bytes of head were read.
    Simple {
        // Boxed: the futures that pass it on would otherwise keep room for it while a
        // response streams.
        request: Box<Request<Body>>,
        keep_alive: bool,
        len: usize,
    },
    /// Anything else (another method, a body, an upgrade, HTTP/1.0, a malformed or
    /// oversized head): hyper answers it and the rest of the connection.
    Other,
}

/// Parses the head at the start of `bytes`.
pub(super) fn parse(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let len = match head.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Other,
    };
    match simple(&head) {
        Some((request, keep_alive)) => Parsed::Simple {
            request: Box::new(request),
            keep_alive,
            len,
        },
        None => Parsed::Other,
    }
}

/// The request, if it is one answered here, and whether the connection stays open
/// after its response.
fn simple(head: &httparse::Request<'_, '_>) -> Option<(Request<Body>, bool)> {
    if head.method != Some("GET") || head.version != Some(1) {
        return None;
    }
    let uri: Uri = head.path?.parse().ok()?;
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    let mut keep_alive = true;
    for header in head.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(header.value).ok()?;
        let has_body = name == CONTENT_LENGTH && value != "0" || name == TRANSFER_ENCODING;
        if has_body || name == UPGRADE || name == EXPECT {
            return None;
        }
        if name == CONNECTION && has_token(&value, "close") {
            keep_alive = false;
        }
        headers.append(name, value);
    }
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Some((request, keep_alive))
}

/// Whether a comma-separated header value lists `token`, in any case.
pub(super) fn has_token(value: &HeaderValue, token: &str) -> bool {
    value.to_str().is_ok_and(|list| {
        list.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple_request(head: &str) -> (Request<Body>, bool, usize) {
        match parse(head.as_bytes()) {
            Parsed::Simple {
                request,
                keep_alive,
                len,
            } => (*request, keep_alive, len),
            Parsed::Partial => panic!("partial: {head:?}"),
            Parsed::Other => panic!("other: {head:?}"),
        }
    }

    #[test]
    fn a_get_is_answered_here() {
        let head = "GET /events?a=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\n\r\n";
        let (request, keep_alive, len) = simple_request(&format!("{head}GET /next"));
        assert_eq!(len, head.len());
        assert!(keep_alive);
        assert_eq!(request.uri(), "/events?a=1");
        assert_eq!(request.headers()["last-event-id"], "7");
    }

    #[test]
    fn connection_close_ends_the_connection_after_the_response() {
        let (_, keep_alive, _) =
            simple_request("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n");
        assert!(!keep_alive);
        let (_, keep_alive, _) = simple_request("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(keep_alive);
    }

    #[test]
    fn half_a_head_waits_for_more() {
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHost"), Parsed::Partial));
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for head in [
            "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
            "HEAD / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "NONSENSE\r\n\r\n",
        ] {
            assert!(matches!(parse(head.as_bytes()), Parsed::Other), "{head:?}");
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "y".repeat(MAX_HEAD));
        assert!(matches!(parse(huge.as_bytes()), Parsed::Other));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(parse(many.as_bytes()), Parsed::Other));
    }
}
