//! Views that return `impl Stream`, written with `yield` inside `stream!`, over real TCP:
//! extractors and resume, the end of the stream, errors, a client that leaves, the
//! attribute's options, and an `async fn` that awaits before it streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::Router;
use sse_runtime::prelude::*;
use tests::views::{assert_the_view_stops_when_the_client_leaves, first_frames};
use tests::{logs, serve, take_events, Client, PATIENCE};

#[derive(Clone, Default)]
struct AppState {
    ticks: Arc<AtomicU64>,
}

/// Counts from after the client's last id (or from 1) up to `to`, then ends.
#[sse_view("/count/{to}")]
fn count(Path(to): Path<u64>, last: LastEventId) -> impl Stream<Item = Event> {
    let from = last.parse::<u64>().map_or(1, |last| last + 1);
    stream! {
        for n in from..=to {
            yield Event::new().id(n.to_string()).data(format!("n={n}"));
        }
    }
}

/// Yields one event, then fails.
#[sse_view("/fails")]
fn fails() -> impl Stream<Item = Result<Event, std::io::Error>> {
    stream! {
        yield Ok(Event::new().event("before").data("the error"));
        yield Err(std::io::Error::other("the stream is on fire"));
        yield Ok(Event::new().event("after").data("the error"));
    }
}

/// Counts its iterations in the state, one event every 10 ms, forever.
#[sse_view("/ticks")]
fn ticks(State(state): State<AppState>) -> impl Stream<Item = Event> {
    stream! {
        loop {
            let n = state.ticks.fetch_add(1, Ordering::SeqCst);
            yield Event::new().event("tick").data(n.to_string());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Says hello, then idles: its keep-alive and retry come from the attribute.
#[sse_view("/quiet", keep_alive = Duration::from_millis(100), retry = Duration::from_secs(4))]
fn quiet() -> impl Stream<Item = Event> {
    stream! {
        yield Event::new().event("hello").data("x");
        std::future::pending::<()>().await;
    }
}

/// Awaits before it has a stream to return.
#[sse_view("/later")]
async fn later() -> impl Stream<Item = Event> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let greeting = String::from("after a wait");
    stream! {
        yield Event::new().data(greeting);
    }
}

fn app() -> Router {
    sse_routes![count, fails, ticks, quiet, later].with_state(AppState::default())
}

#[tokio::test]
async fn each_yield_is_an_event_and_the_response_ends_with_the_stream() {
    let addr = serve(app()).await;
    let mut client = Client::get(addr, "/count/3", &[]).await;
    assert_eq!(client.status, 200);
    assert_eq!(client.headers["content-type"], "text/event-stream");
    let mut wire = Vec::new();
    while let Some(frame) = client.frame_within(PATIENCE).await {
        wire.extend_from_slice(&frame);
    }
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "id: 1\ndata: n=1\n\nid: 2\ndata: n=2\n\nid: 3\ndata: n=3\n\n"
    );
}

#[tokio::test]
async fn extractors_see_the_request_and_a_resume_starts_after_the_last_id() {
    let addr = serve(app()).await;
    let client = Client::get(addr, "/count/5", &[("last-event-id", "3")]).await;
    let got = take_events(&mut client.events(), 3).await;
    let ids: Vec<&str> = got.iter().map(|event| &*event.id).collect();
    assert_eq!(ids, ["4", "5"], "{got:?}");

    let client = Client::get(addr, "/count/5?lastEventId=4", &[]).await;
    let got = take_events(&mut client.events(), 2).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].data, "n=5");
}

#[tokio::test]
async fn an_error_item_ends_the_stream_and_is_logged() {
    logs::capture();
    let addr = serve(app()).await;
    let client = Client::get(addr, "/fails", &[]).await;
    let got = take_events(&mut client.events(), 2).await;
    assert_eq!(got.len(), 1, "the stream ends at the error: {got:?}");
    assert_eq!(got[0].event, "before");
    let logged = logs::containing("the stream is on fire");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("ERROR") && logged[0].contains("view=\"fails\""));
}

#[tokio::test]
async fn the_stream_stops_when_the_client_leaves() {
    let state = AppState::default();
    let addr = serve(sse_routes![ticks].with_state(state.clone())).await;
    assert_the_view_stops_when_the_client_leaves(addr, "/ticks", &state.ticks).await;
}

#[tokio::test]
async fn the_attributes_retry_and_keep_alive_apply() {
    let addr = serve(app()).await;
    let frames = first_frames(addr, "/quiet", 4).await;
    assert_eq!(&frames[0][..], b"retry: 4000\n\n");
    assert_eq!(&frames[1][..], b"event: hello\ndata: x\n\n");
    assert_eq!(&frames[2][..], b":\n\n");
    assert_eq!(&frames[3][..], b":\n\n");
}

#[tokio::test]
async fn an_async_view_may_await_before_it_streams() {
    let addr = serve(app()).await;
    let client = Client::get(addr, "/later", &[]).await;
    let got = take_events(&mut client.events(), 2).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].data, "after a wait");
}

#[tokio::test]
async fn a_stream_view_is_an_ordinary_handler_too() {
    let response = count(Path(1), LastEventId::default()).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
}
