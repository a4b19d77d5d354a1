//! The limits of `sse_runtime::serve` against clients that hold connections without
//! finishing a request: a head sent a byte at a time (slowloris), a connection that
//! sends nothing, a head that never ends, and requests without `Host`, on both the
//! server's own path and hyper's after a hand-over. Real sockets, a real server.

use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use sse_runtime::prelude::*;
use tests::{Client, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One event every 100 ms, forever.
#[sse_view("/ticks")]
async fn ticks(sse: &mut Sse) {
    loop {
        sse.add_message("tick", "now");
        sse.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn app() -> Router {
    sse_routes![ticks].route("/echo", post(|body: String| async move { body }))
}

/// Serves `app()` with a header timeout of 1 s, an idle timeout of 2 s and heads of at
/// most 8 KiB.
async fn serve_with_limits() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = sse_runtime::serve(listener, app())
        .header_timeout(Duration::from_secs(1))
        .idle_timeout(Duration::from_secs(2))
        .max_head(8 * 1024);
    tokio::spawn(async move { serve.await.expect("serve") });
    addr
}

/// Reads what the server sends until it closes the connection, for at most `wait`;
/// `None` if it is still open then.
async fn read_until_closed(tcp: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(wait, tcp.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_after_the_header_timeout_while_others_are_served() {
    let addr = serve_with_limits().await;
    let started = Instant::now();
    let slow: Vec<_> = (0..200)
        .map(|_| {
            tokio::spawn(async move {
                let mut tcp = TcpStream::connect(addr).await.unwrap();
                tcp.write_all(b"GET /ticks HTTP/1.1\r\nhost: test\r\n")
                    .await
                    .unwrap();
                // A header byte every 200 ms, for at most 10 s: the head never ends.
                // Once the server has closed, a write fails (the connection is reset).
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if tcp.write_all(b"x").await.is_err() {
                        break;
                    }
                }
                let answer = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    // Meanwhile a well-behaved client streams.
    let mut client = Client::get(addr, "/ticks", &[]).await;
    for _ in 0..10 {
        client.frame_within(PATIENCE).await.expect("a tick");
    }
    for slow in slow {
        let (answer, closed_after) = slow.await.unwrap();
        let answer = answer.expect("the server closed the slow connection");
        // The 408 is sent, but the reset of a later write may discard it unread.
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n") || answer.is_empty(),
            "{answer}"
        );
        assert!(
            closed_after < Duration::from_secs(4),
            "closed {closed_after:?} after it started, with a header timeout of 1 s"
        );
    }
}

#[tokio::test]
async fn a_connection_that_starts_no_request_is_closed_after_the_idle_timeout_and_a_stream_is_not()
{
    let addr = serve_with_limits().await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::get(addr, "/ticks", &[]).await;
    let answer = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(answer.as_deref(), Some(""), "closed without a word");
    // The stream is a request under way: it outlives the idle timeout.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        client
            .frame_within(PATIENCE)
            .await
            .expect("the stream goes on");
    }
}

#[tokio::test]
async fn a_head_past_the_maximum_is_refused_on_both_paths() {
    let addr = serve_with_limits().await;
    // The server's own path: a GET whose head grows past 8 KiB and never ends.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /ticks HTTP/1.1\r\nhost: test\r\ncookie: ")
        .await
        .unwrap();
    let sent = tcp.write_all(&[b'c'; 9 * 1024]).await;
    let answer = read_until_closed(&mut tcp, PATIENCE).await.expect("closed");
    assert!(sent.is_ok());
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );

    // Hyper's path: a POST hands the connection over; the next head is too large.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let cookie = "c".repeat(9 * 1024);
    let requests = format!(
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\nhi\
         POST /echo HTTP/1.1\r\nhost: test\r\ncookie: {cookie}\r\ncontent-length: 2\r\n\r\nhi"
    );
    tcp.write_all(requests.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut tcp, PATIENCE).await.expect("closed");
    // A response's body runs into the next status line: split at each one.
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| answer[at..].lines().next())
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 431 Request Header Fields Too Large"
        ],
        "{answer}"
    );
}

#[tokio::test]
async fn a_request_without_host_is_refused_on_both_paths() {
    let addr = serve_with_limits().await;
    for (request, path) in [
        (
            "GET /ticks HTTP/1.1\r\naccept: text/event-stream\r\n\r\n",
            "the server's own",
        ),
        (
            "POST /echo HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi",
            "hyper's",
        ),
    ] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut tcp, PATIENCE).await.expect("closed");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n") && answer.contains("Host header"),
            "{path} path: {answer}"
        );
    }
    // HTTP/1.0 had no Host: still answered.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"POST /echo HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi")
        .await
        .unwrap();
    let answer = read_until_closed(&mut tcp, PATIENCE).await.expect("closed");
    assert!(
        answer.contains(" 200 OK\r\n") && answer.ends_with("hi"),
        "{answer}"
    );
}
