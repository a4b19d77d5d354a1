//! Generator views over real TCP: flush boundaries, extractors, errors, disconnects,
//! keep-alive, and the router macro with state and `nest`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Router;
use http_body_util::BodyExt;
use sse_runtime::prelude::*;
use tests::views::{assert_the_view_stops_when_the_client_leaves, first_frames};
use tests::{logs, serve, take_events, Client, PATIENCE};
use tokio::sync::Notify;

#[derive(Clone, Default)]
struct AppState {
    gate: Arc<Notify>,
    ticks: Arc<AtomicU64>,
}

/// Buffers two messages, then waits for the test's signal before it flushes them.
#[sse_view("/gated")]
async fn gated(State(state): State<AppState>, sse: &mut Sse) {
    sse.add_message("a", "1");
    sse.add_message("b", "2");
    state.gate.notified().await;
    sse.flush().await;
    std::future::pending::<()>().await;
}

/// Echoes what its extractors saw, with the buffer among them rather than last.
#[sse_view("/rooms/{room}")]
async fn extract(
    Path(room): Path<String>,
    sse: &mut Sse,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    last: LastEventId,
) {
    sse.add_message("room", &room);
    sse.add_message("who", query.get("who").map_or("nobody", String::as_str));
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
    sse.add_message("agent", agent.unwrap_or("none"));
    sse.add_message("last", last.as_str().unwrap_or("none"));
    let number = last.parse::<u64>().map(|n| (n + 1).to_string());
    sse.add_message("next", number.as_deref().unwrap_or("none"));
}

/// Sends one event, then fails.
#[sse_view("/fails")]
async fn fails(sse: &mut Sse) -> Result<(), std::io::Error> {
    sse.add_message("before", "the error");
    sse.flush().await;
    Err(std::io::Error::other("the disk is on fire"))?;
    sse.add_message("after", "the error");
    Ok(())
}

/// Counts its iterations in the state, flushing every 10 ms.
#[sse_view("/ticks")]
async fn ticks(State(state): State<AppState>, sse: &mut Sse) {
    loop {
        let n = state.ticks.fetch_add(1, Ordering::SeqCst);
        sse.add_message("tick", &n.to_string());
        sse.flush().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Says hello, then idles with a short keep-alive.
#[sse_view("/quiet", keep_alive = Duration::from_millis(100), retry = Duration::from_secs(4))]
async fn quiet(sse: &mut Sse) {
    sse.send(&Event::new().event("hello").data("x")).await;
    std::future::pending::<()>().await;
}

/// A view whose path is given where it is mounted.
#[sse_view]
async fn mounted(sse: &mut Sse) {
    sse.add_message("where", "mounted");
}

fn app(state: AppState) -> Router {
    sse_routes![gated, extract, fails, ticks, quiet, "/elsewhere" => mounted].with_state(state)
}

#[tokio::test]
async fn messages_buffered_before_a_flush_arrive_together_and_not_before() {
    let state = AppState::default();
    let addr = serve(app(state.clone())).await;
    let mut client = Client::get(addr, "/gated", &[]).await;
    assert_eq!(client.status, 200);
    let early = client.try_frame_within(Duration::from_millis(300)).await;
    assert_eq!(early, None, "nothing goes out before the flush");
    state.gate.notify_one();
    let frame = client.frame_within(PATIENCE).await.unwrap();
    assert_eq!(&frame[..], b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
}

#[tokio::test]
async fn extractors_stand_anywhere_among_the_arguments() {
    let addr = serve(app(AppState::default())).await;
    let client = Client::get(
        addr,
        "/rooms/kitchen?who=ann",
        &[("user-agent", "probe/1"), ("last-event-id", "41")],
    )
    .await;
    let mut events = client.events();
    let got = take_events(&mut events, 5).await;
    let pairs: Vec<(&str, &str)> = got.iter().map(|e| (&*e.event, &*e.data)).collect();
    assert_eq!(
        pairs,
        [
            ("room", "kitchen"),
            ("who", "ann"),
            ("agent", "probe/1"),
            ("last", "41"),
            ("next", "42")
        ]
    );
}

#[tokio::test]
async fn last_event_id_falls_back_to_the_query_and_refuses_bad_ids() {
    let addr = serve(app(AppState::default())).await;
    let client = Client::get(addr, "/rooms/x?lastEventId=7", &[]).await;
    let got = take_events(&mut client.events(), 5).await;
    assert_eq!((got[3].data.as_str(), got[4].data.as_str()), ("7", "8"));

    // A view sees no id at all for none, an empty one, and one that is not a number.
    for (headers, last, next) in [
        (&[][..], "none", "none"),
        (&[("last-event-id", "")][..], "none", "none"),
        (&[("last-event-id", "abc")][..], "abc", "none"),
    ] {
        let client = Client::get(addr, "/rooms/x", headers).await;
        let got = take_events(&mut client.events(), 5).await;
        assert_eq!((got[3].data.as_str(), got[4].data.as_str()), (last, next));
    }

    // 256 bytes is the longest id; each refusal is the crate's, with its reason, by
    // header and by query.
    let longest = "9".repeat(256);
    let client = Client::get(addr, "/rooms/x", &[("last-event-id", &longest)]).await;
    let got = take_events(&mut client.events(), 4).await;
    assert_eq!(got[3].data, longest);
    let too_long = "9".repeat(257);
    let refused = [
        (
            too_long.as_str(),
            too_long.as_str(),
            "it is longer than 256 bytes",
        ),
        ("1\rid: 2", "1%0Did:%202", "it holds CR, LF or NUL"),
        ("1\nid: 2", "1%0Aid:%202", "it holds CR, LF or NUL"),
        ("1\0", "1%00", "it holds CR, LF or NUL"),
    ];
    for (header, query, reason) in refused {
        let by_query = Client::get(addr, &format!("/rooms/x?lastEventId={query}"), &[]).await;
        assert_eq!(by_query.status, 400, "{query:.20}");
        assert_eq!(
            by_query.text().await,
            format!("bad Last-Event-ID: {reason}")
        );
        // CR, LF and NUL cannot be in a header (hyper's client refuses them; the raw
        // bytes are in `limits.rs`); the length can.
        if !header.contains(['\r', '\n', '\0']) {
            let by_header = Client::get(addr, "/rooms/x", &[("last-event-id", header)]).await;
            assert_eq!(by_header.status, 400, "{header:.20}");
            assert_eq!(
                by_header.text().await,
                format!("bad Last-Event-ID: {reason}")
            );
        }
    }
}

#[tokio::test]
async fn an_error_ends_the_stream_and_is_logged() {
    logs::capture();
    let addr = serve(app(AppState::default())).await;
    let client = Client::get(addr, "/fails", &[]).await;
    let mut events = client.events();
    let got = take_events(&mut events, 2).await;
    assert_eq!(got.len(), 1, "the stream ends at the error: {got:?}");
    assert_eq!(got[0].event, "before");
    let logged = logs::containing("the disk is on fire");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("ERROR") && logged[0].contains("view=\"fails\""));
}

#[tokio::test]
async fn the_body_stops_when_the_client_leaves() {
    let state = AppState::default();
    let addr = serve(app(state.clone())).await;
    assert_the_view_stops_when_the_client_leaves(addr, "/ticks", &state.ticks).await;
}

#[tokio::test]
async fn an_idle_view_sends_keep_alives_after_its_retry() {
    let addr = serve(app(AppState::default())).await;
    let frames = first_frames(addr, "/quiet", 4).await;
    assert_eq!(&frames[0][..], b"retry: 4000\n\n");
    assert_eq!(&frames[1][..], b"event: hello\ndata: x\n\n");
    assert_eq!(&frames[2][..], b":\n\n");
    assert_eq!(&frames[3][..], b":\n\n");
}

#[tokio::test]
async fn the_routes_nest_and_a_mounted_path_works() {
    let app = Router::new().nest("/api", app(AppState::default()));
    let addr = serve(app).await;
    let client = Client::get(addr, "/api/elsewhere", &[]).await;
    let got = take_events(&mut client.events(), 1).await;
    assert_eq!(got[0].data, "mounted");
    assert_eq!(Client::get(addr, "/elsewhere", &[]).await.status, 404);
}

#[tokio::test]
async fn a_view_is_an_ordinary_handler_too() {
    let state = AppState::default();
    state.gate.notify_one();
    let response = gated(State(state)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&frame[..], b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
}
