//! `sse_runtime::serve` answers every request an app gets, not only streams: GETs on its
//! own HTTP/1.1 writer, anything else through hyper, on one connection, in order.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use tests::{serve, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn app() -> Router {
    Router::new()
        .route("/page", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|body: String| async move { format!("got {body}") }),
        )
        .route(
            "/pieces",
            get(|| async {
                let pieces = ["a", "bb", "ccc"].map(Ok::<_, Infallible>);
                Body::from_stream(futures_util::stream::iter(pieces))
            }),
        )
        .route("/nothing", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/forever",
            get(|| async {
                let first = futures_util::stream::iter([Ok::<_, Infallible>("open\n")]);
                Body::from_stream(first.chain(futures_util::stream::pending()))
            }),
        )
        .route("/peer", get(peer).post(peer))
}

/// The address the request came from, as the handler sees it.
async fn peer(ConnectInfo(from): ConnectInfo<SocketAddr>) -> String {
    format!("from {}", from.ip())
}

/// Writes `requests` on one connection and reads until the server closes it.
async fn exchange(requests: &str) -> String {
    let addr = serve(app()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(requests.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

/// The responses in `answer`, split at each status line.
fn responses(answer: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = answer.match_indices("HTTP/1.").map(|(at, _)| at).collect();
    starts.push(answer.len());
    starts.windows(2).map(|w| &answer[w[0]..w[1]]).collect()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_a_post_goes_through_hyper() {
    let answer = exchange(concat!(
        "GET /page HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /pieces HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nworld",
        "GET /page HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let responses = responses(&answer);
    assert_eq!(responses.len(), 5, "{answer}");

    let page = responses[0];
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("content-length: 5\r\n"), "{page}");
    assert!(page.contains("\r\ndate: "), "{page}");
    assert!(page.ends_with("\r\n\r\nhello"), "{page}");

    let pieces = responses[1];
    assert!(
        pieces.contains("transfer-encoding: chunked\r\n"),
        "{pieces}"
    );
    assert!(
        pieces.ends_with("\r\n\r\n1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n"),
        "{pieces}"
    );

    let nothing = responses[2];
    assert!(
        nothing.starts_with("HTTP/1.1 204 No Content\r\n"),
        "{nothing}"
    );
    assert!(!nothing.contains("content-length"), "{nothing}");
    assert!(!nothing.contains("transfer-encoding"), "{nothing}");

    let echo = responses[3];
    assert!(echo.starts_with("HTTP/1.1 200 OK\r\n"), "{echo}");
    assert!(echo.ends_with("got world"), "{echo}");

    let last = responses[4];
    assert!(last.ends_with("\r\n\r\nhello"), "{last}");
}

#[tokio::test]
async fn connection_close_is_honoured_on_a_get() {
    let answer = exchange("GET /page HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
}

#[tokio::test]
async fn heads_http_1_0_and_large_heads_are_answered() {
    let head = exchange("HEAD /page HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "a HEAD response has no body: {head}"
    );

    let old = exchange("GET /page HTTP/1.0\r\nHost: t\r\n\r\n").await;
    assert!(old.contains(" 200 OK\r\n"), "{old}");
    assert!(old.ends_with("hello"), "{old}");

    let cookie = "c".repeat(20 * 1024);
    let large = exchange(&format!(
        "GET /page HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    assert!(large.starts_with("HTTP/1.1 200 OK\r\n"), "{large}");
    assert!(large.ends_with("hello"), "{large}");
}

#[tokio::test]
async fn a_malformed_request_gets_400_from_hyper() {
    let answer = exchange("GET /page HTTP/1.1\r\nBad Header: x\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn handlers_get_the_client_address_whoever_answers() {
    let answer = exchange(concat!(
        "GET /peer HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /peer HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let responses = responses(&answer);
    assert_eq!(responses.len(), 2, "{answer}");
    for response in responses {
        assert!(response.ends_with("\r\n\r\nfrom 127.0.0.1"), "{response}");
    }
}

/// While a response streams, a client may send up to 16 KiB ahead (a pipelined request
/// waits for its turn); one byte more and the server closes the connection rather than
/// hold whatever it is sent.
#[tokio::test]
async fn a_client_may_send_16_kib_ahead_of_a_streaming_response_and_no_more() {
    const AHEAD: usize = 16 * 1024;
    let addr = serve(app()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    while !answer.ends_with(b"open\n\r\n") {
        let read = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk))
            .await
            .expect("the stream starts in time")
            .unwrap();
        assert!(read > 0, "the stream starts: {answer:?}");
        answer.extend_from_slice(&chunk[..read]);
    }
    let pipelined = format!("GET /page HTTP/1.1\r\nHost: t\r\nX: {}", "y".repeat(AHEAD));
    tcp.write_all(&pipelined.as_bytes()[..AHEAD]).await.unwrap();
    // Bounded: the server had half a second to close the connection, and did not.
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(500), tcp.read(&mut chunk)).await;
    assert!(
        quiet.is_err(),
        "16 KiB ahead keeps the stream open: {quiet:?}"
    );
    tcp.write_all(b"y").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut rest))
        .await
        .expect("one byte more and the server closes the connection");
    // Closed, with a FIN or, had it left bytes unread, a reset.
    assert!(
        closed.as_ref().map_or_else(
            |error| error.kind() == std::io::ErrorKind::ConnectionReset,
            |_| rest.is_empty()
        ),
        "closed with nothing more sent: {closed:?}, {rest:?}"
    );
}

/// A client that closes its side half-way through a request head is let go: the server
/// closes the connection rather than wait, or spin, on what will never come.
#[tokio::test]
async fn a_client_that_closes_half_way_through_a_head_is_let_go() {
    let addr = serve(app()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /page HTTP/1.1\r\nHost").await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time")
        .unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}
