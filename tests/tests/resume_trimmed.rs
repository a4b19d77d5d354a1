//! A history trimmed under a client that is reading it: the client gets the page it was
//! given, its stream ends, and it resumes from its last id to be told to reset. It was
//! not cut off for falling behind, and the metric of those says so. (A binary of its
//! own: the metrics it reads are the process's.)

use std::time::Duration;

use axum::{Extension, Router};
use metrics_exporter_prometheus::PrometheusBuilder;
use sse_runtime::prelude::*;
use tests::{logs, next_event, serve, take_events, Client, PATIENCE};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// Events this big fill the socket's buffers (4 MiB to send, and what the client's
/// receive window holds while it does not read) long before a page of history (100
/// events, 30 MB) is written, so the stream waits for its client in the middle of it.
const DATA_BYTES: usize = 300_000;

const HISTORY: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_trimmed_under_a_resuming_client_ends_its_stream_and_is_not_cut_off() {
    logs::capture();
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the test binary's recorder");
    let hub = Hub::builder()
        .history(HISTORY)
        .history_bytes(4 * HISTORY * DATA_BYTES)
        .build()
        .unwrap();
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let padding = "x".repeat(DATA_BYTES);
    let send = |n: usize| hub.send_event("n", format!("{n} {padding}"), "room:0");
    let mut events = Client::get(addr, "/live/0", &[]).await.events();
    send(0).await.unwrap();
    let first = take_events(&mut events, 1).await.remove(0);
    drop(events);
    for n in 1..HISTORY {
        send(n).await.unwrap();
    }

    // Resumes from the first, and reads nothing while the history moves on past the
    // page it was given.
    let mut resumed = Client::get(addr, "/live/0", &[("last-event-id", &first.id)])
        .await
        .events();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in HISTORY..2 * HISTORY {
        send(n).await.unwrap();
    }
    let mut last = None;
    let mut read = 0;
    while let Some(event) = next_event(&mut resumed, PATIENCE, "the resumed client").await {
        read += 1;
        let n: usize = event.data.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, read, "the history in order, from after the first");
        last = Some(event.id);
    }
    assert_eq!(read, 100, "the page it was given, then its stream ends");
    let trimmed = logs::containing("the history was trimmed past the client");
    assert_eq!(trimmed.len(), 1, "why it ended: {trimmed:?}");

    let last = last.unwrap();
    let mut again = Client::get(addr, "/live/0", &[("last-event-id", &last)])
        .await
        .events();
    let reset = take_events(&mut again, 1).await.remove(0);
    assert_eq!(reset.event, sse_runtime::RESET_EVENT, "resumed from {last}");

    let cut_off = metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix("sse_clients_cut_off_total "))
        .map(str::to_owned);
    assert!(
        matches!(cut_off.as_deref(), None | Some("0")),
        "a client whose history was trimmed did not fall behind: sse_clients_cut_off_total {cut_off:?}"
    );
}
