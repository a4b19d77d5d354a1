//! The limit of open streams, and hostile input answered with a 4xx while other clients
//! stream on. (A binary of its own: the limit is process-wide.)

use std::time::Duration;

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::{serve, take_events, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A channel per room.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Rooms;

/// Sends raw bytes as a request and returns the status line of the answer.
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = vec![0; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_hostile_input() {
    let hub = Hub::embedded();
    let app: Router = sse_routes![Rooms].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let watcher = Client::get(addr, "/rooms/calm", &[]).await;
    let mut calm = watcher.events();

    // Hostile Last-Event-IDs: too long, not UTF-8, with CR or LF.
    let long = "7".repeat(10_000);
    assert_eq!(
        Client::get(addr, "/rooms/x", &[("last-event-id", &long)])
            .await
            .status,
        400
    );
    let not_utf8 = b"GET /rooms/x HTTP/1.1\r\nhost: x\r\nlast-event-id: \xff\xfe\r\n\r\n";
    assert!(raw_status(addr, not_utf8).await.contains(" 400 "));
    let bare_cr = b"GET /rooms/x HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\rid: 2\r\n\r\n";
    assert!(raw_status(addr, bare_cr).await.contains(" 400 "));
    assert_eq!(
        Client::get(addr, "/rooms/x?lastEventId=1%0Aid:%202", &[])
            .await
            .status,
        400
    );
    // Hostile channel names.
    for room in ["a*", "%3F", "%5B", "a%0Ab", "..%2F..", &"r".repeat(10_000)] {
        assert_eq!(
            Client::get(addr, &format!("/rooms/{room}"), &[])
                .await
                .status,
            400
        );
    }

    // The calm client never noticed.
    hub.send_event("still", "here", "room:calm").await.unwrap();
    assert_eq!(take_events(&mut calm, 1).await[0].data, "here");

    // The limit of open streams: one is open (the calm client's).
    sse_runtime::set_max_streams(Some(3));
    let second = Client::get(addr, "/rooms/a", &[]).await;
    let third = Client::get(addr, "/rooms/b", &[]).await;
    assert_eq!((second.status.as_u16(), third.status.as_u16()), (200, 200));
    let refused = Client::get(addr, "/rooms/c", &[]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers["retry-after"], "1");
    drop(third);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let again = Client::get(addr, "/rooms/c", &[]).await;
        if again.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a slot frees when a stream ends"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sse_runtime::set_max_streams(None);
}
