//! The response over real TCP: headers, events as an independent parser reads them,
//! keep-alive, and what happens when the client leaves.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};
use sse_runtime::{Event, KeepAlive, SseResponse};
use tests::{serve, take_events, Client};
use tokio::sync::oneshot;

fn numbered(count: usize) -> impl Stream<Item = Bytes> {
    stream::iter(0..count).map(|n| {
        Event::new()
            .event("number")
            .id(n.to_string())
            .data(format!("{n}\nline two"))
            .encode()
    })
}

#[tokio::test]
async fn headers_retry_and_events_reach_a_real_client() {
    let app = Router::new().route(
        "/numbers",
        get(|| async { SseResponse::new(numbered(3)).retry(Duration::from_millis(2500)) }),
    );
    let addr = serve(app).await;
    let mut client = Client::get(addr, "/numbers", &[]).await;
    assert_eq!(client.status, 200);
    assert_eq!(client.headers["content-type"], "text/event-stream");
    assert_eq!(client.headers["cache-control"], "no-cache");
    assert_eq!(client.headers["x-accel-buffering"], "no");
    assert_eq!(
        client.frame_within(tests::PATIENCE).await.as_deref(),
        Some(&b"retry: 2500\n\n"[..])
    );
    let mut events = client.events();
    let got = take_events(&mut events, 3).await;
    for (n, event) in got.iter().enumerate() {
        assert_eq!(event.event, "number");
        assert_eq!(event.id, n.to_string());
        assert_eq!(event.data, format!("{n}\nline two"));
    }
    assert!(
        events.next().await.is_none(),
        "the body ends with the stream"
    );
}

#[tokio::test]
async fn an_idle_stream_sends_keep_alive_comments() {
    let app = Router::new().route(
        "/idle",
        get(|| async {
            SseResponse::new(stream::pending::<Bytes>()).keep_alive(
                KeepAlive::new()
                    .interval(Duration::from_millis(200))
                    .text("ping"),
            )
        }),
    );
    let addr = serve(app).await;
    let mut client = Client::get(addr, "/idle", &[]).await;
    for _ in 0..3 {
        let frame = client.frame_within(Duration::from_secs(2)).await;
        assert_eq!(frame.as_deref(), Some(&b":ping\n\n"[..]));
    }
}

#[tokio::test]
async fn keep_alive_waits_while_real_events_flow() {
    // An event every 50 ms, a keep-alive after 400 ms of silence: no comment may slip in
    // between the events, and one must come once they stop.
    let ticks = stream::iter(0..10).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Event::new().data(n.to_string()).encode()
    });
    let frames = ticks.chain(stream::pending());
    let response =
        SseResponse::new(frames).keep_alive(KeepAlive::new().interval(Duration::from_millis(400)));
    let response = std::sync::Arc::new(std::sync::Mutex::new(Some(response)));
    let app = Router::new().route(
        "/ticks",
        get(move || {
            let response = response.lock().unwrap().take().expect("one request");
            async move { response }
        }),
    );
    let addr = serve(app).await;
    let mut client = Client::get(addr, "/ticks", &[]).await;
    for n in 0..10 {
        let frame = client.frame_within(tests::PATIENCE).await.unwrap();
        assert_eq!(frame, Event::new().data(n.to_string()).encode());
    }
    let frame = client.frame_within(Duration::from_secs(2)).await;
    assert_eq!(frame.as_deref(), Some(&b":\n\n"[..]));
}

/// Tells the test when the stream it guards is dropped.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(signal) = self.0.take() {
            let _ = signal.send(());
        }
    }
}

#[tokio::test]
async fn the_stream_is_dropped_soon_after_the_client_leaves() {
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let guard = std::sync::Arc::new(std::sync::Mutex::new(Some(DropSignal(Some(dropped_tx)))));
    let app = Router::new().route(
        "/forever",
        get(move || {
            let guard = guard.lock().unwrap().take().expect("one request");
            async move {
                let first = stream::once(async { Event::new().data("hello").encode() });
                let frames = first.chain(stream::pending()).map(move |frame| {
                    let _alive = &guard;
                    frame
                });
                SseResponse::new(frames)
            }
        }),
    );
    let addr = serve(app).await;
    let mut client = Client::get(addr, "/forever", &[]).await;
    assert!(client.frame_within(tests::PATIENCE).await.is_some());
    drop(client);
    tokio::time::timeout(Duration::from_secs(1), dropped_rx)
        .await
        .expect("the server drops the stream within 1 s of the client leaving")
        .expect("the signal is sent, not lost");
}
