//! Reading a request head off the connection, and deciding who answers it.

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING, UPGRADE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};

/// The most bytes a client may send ahead (a pipelined request) while a response
/// streams.
pub(super) const MAX_AHEAD: usize = 16 * 1024;
/// More headers than this go to hyper, which takes up to 100.
const MAX_HEADERS: usize = 64;

/// What an HTTP/2 client with prior knowledge (h2c) sends first (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A request refused before the app sees it; its connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The head grew past the server's `max_head`.
    TooLarge,
    /// HTTP/1.1 without `Host` (RFC 9112 §3.2).
    NoHost,
    /// The head was not whole within the header timeout.
    TimedOut,
}

impl Refusal {
    /// The answer: its status and a line that says why.
    pub(super) fn response(self) -> Response {
        let (status, reason) = match self {
            Refusal::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request head is larger than this server takes\n",
            ),
            Refusal::NoHost => (
                StatusCode::BAD_REQUEST,
                "an HTTP/1.1 request needs a Host header (RFC 9112, section 3.2)\n",
            ),
            Refusal::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                "the request head did not arrive within the header timeout\n",
            ),
        };
        (status, reason).into_response()
    }
}

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
    /// Anything else (another method, a body, an upgrade, HTTP/1.0, a malformed head,
    /// many headers): hyper answers it and the rest of the connection.
    Other,
    /// Refused here, whatever it is.
    Refused(Refusal),
    /// The HTTP/2 preface: hyper's HTTP/2 server answers the connection.
    Http2,
}

/// Parses the head at the start of `bytes`; a head longer than `max_head`, whole or
/// not, is refused.
pub(super) fn parse(bytes: &[u8], max_head: usize) -> Parsed {
    if bytes.starts_with(HTTP2_PREFACE) {
        return Parsed::Http2;
    }
    if HTTP2_PREFACE.starts_with(bytes) {
        return Parsed::Partial;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let len = match head.parse(bytes) {
        Ok(httparse::Status::Complete(len)) if len <= max_head => len,
        Ok(httparse::Status::Partial) if bytes.len() <= max_head => return Parsed::Partial,
        Ok(_) => return Parsed::Refused(Refusal::TooLarge),
        Err(_) => return Parsed::Other,
    };
    match simple(&head) {
        Some(Ok((request, keep_alive))) => Parsed::Simple {
            request: Box::new(request),
            keep_alive,
            len,
        },
        Some(Err(refusal)) => Parsed::Refused(refusal),
        None => Parsed::Other,
    }
}

/// The request, if it is one answered here, and whether the connection stays open
/// after its response; or why it is refused.
fn simple(head: &httparse::Request<'_, '_>) -> Option<Result<(Request<Body>, bool), Refusal>> {
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
    if !headers.contains_key(HOST) {
        return Some(Err(Refusal::NoHost));
    }
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Some(Ok((request, keep_alive)))
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

    const MAX: usize = 64 * 1024;

    fn simple_request(head: &str) -> (Request<Body>, bool, usize) {
        match parse(head.as_bytes(), MAX) {
            Parsed::Simple {
                request,
                keep_alive,
                len,
            } => (*request, keep_alive, len),
            Parsed::Partial => panic!("partial: {head:?}"),
            Parsed::Other => panic!("other: {head:?}"),
            Parsed::Refused(refusal) => panic!("{refusal:?}: {head:?}"),
            Parsed::Http2 => panic!("HTTP/2: {head:?}"),
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
            simple_request("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n");
        assert!(!keep_alive);
        let (_, keep_alive, _) =
            simple_request("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert!(keep_alive);
        // A Connection header that does not list `close` keeps the connection.
        let (_, keep_alive, _) =
            simple_request("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, closed\r\n\r\n");
        assert!(keep_alive);
    }

    #[test]
    fn half_a_head_waits_for_more() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost", MAX),
            Parsed::Partial
        ));
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
            assert!(
                matches!(parse(head.as_bytes(), MAX), Parsed::Other),
                "{head:?}"
            );
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(parse(many.as_bytes(), MAX), Parsed::Other));
    }

    #[test]
    fn a_head_past_the_maximum_is_refused_whole_or_not() {
        let refused = |bytes: &str| parse(bytes.as_bytes(), 1024);
        let long = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "y".repeat(1024));
        assert!(matches!(refused(&long), Parsed::Refused(Refusal::TooLarge)));
        let whole = format!("{long}\r\n\r\n");
        assert!(matches!(
            refused(&whole),
            Parsed::Refused(Refusal::TooLarge)
        ));
        let post = format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(1024));
        assert!(matches!(refused(&post), Parsed::Refused(Refusal::TooLarge)));
        let within = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "y".repeat(900)
        );
        assert!(matches!(refused(&within), Parsed::Simple { .. }));
    }

    #[test]
    fn a_head_of_exactly_the_maximum_is_taken_and_one_byte_more_is_not() {
        let head = |pad: usize| {
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
                "y".repeat(pad)
            )
        };
        let max = head(100).len();
        assert!(
            matches!(parse(head(100).as_bytes(), max), Parsed::Simple { len, .. } if len == max)
        );
        assert!(matches!(
            parse(head(101).as_bytes(), max),
            Parsed::Refused(Refusal::TooLarge)
        ));
        // Not whole yet: as many bytes as the maximum wait for more, one more is refused.
        let longer = head(200);
        assert!(matches!(
            parse(&longer.as_bytes()[..max], max),
            Parsed::Partial
        ));
        assert!(matches!(
            parse(&longer.as_bytes()[..max + 1], max),
            Parsed::Refused(Refusal::TooLarge)
        ));
    }

    #[test]
    fn the_http2_preface_goes_to_hyper_http2_even_in_pieces() {
        assert!(matches!(parse(HTTP2_PREFACE, MAX), Parsed::Http2));
        assert!(matches!(parse(&HTTP2_PREFACE[..10], MAX), Parsed::Partial));
        let mut more = HTTP2_PREFACE.to_vec();
        more.extend_from_slice(b"\0\0\0\x04");
        assert!(matches!(parse(&more, MAX), Parsed::Http2));
    }

    #[test]
    fn a_get_without_host_is_refused() {
        let parsed = parse(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", MAX);
        assert!(matches!(parsed, Parsed::Refused(Refusal::NoHost)));
    }
}
