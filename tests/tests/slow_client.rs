//! A client that stops reading is cut off, costs bounded memory, and slows no one.
//! (A binary of its own: it measures the process's memory and counts its metrics.)

use std::time::Duration;

use axum::{Extension, Router};
use futures_util::future::join_all;
use metrics_exporter_prometheus::PrometheusBuilder;
use sse_runtime::prelude::*;
use tests::{logs, next_event, serve, Client};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// The resident memory of this process (server and clients both), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number");
    kib * 1024
}

const EVENTS: u64 = 100_000;
/// How long a reader's stream may be silent while events flow before the test fails.
const STALL: Duration = Duration::from_secs(10);
const DATA_BYTES: usize = 1000;
/// What the whole run may add to the process's memory. Queuing the events for the
/// client that does not read would take 100 MB.
const MEMORY_BOUND: u64 = 48 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_and_others_get_every_event() {
    logs::capture();
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the test binary's recorder");
    let hub = Hub::builder()
        .client_queue(1024)
        .history(4096)
        .build()
        .unwrap();
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let path = "/live/busy";
    let mut stalled = Client::get(addr, path, &[]).await;
    let readers = join_all((0..3).map(|_| Client::get(addr, path, &[]))).await;
    let before = rss();

    let padding = "x".repeat(DATA_BYTES - 8);
    let sender = tokio::spawn(async move {
        for n in 0..EVENTS {
            hub.send_event("n", format!("{n:07} {padding}"), "room:busy")
                .await
                .unwrap();
            // A busy feed that readers in a debug build can follow.
            if n % 40 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    // Each reader checks the sequence as it goes, resuming like a browser if it is cut
    // off, and keeps nothing.
    let read_all = readers.into_iter().map(|mut client| async move {
        let (mut next, mut last_id, mut peak) = (0u64, String::new(), 0u64);
        loop {
            let mut events = client.events();
            // A stream the server ends (a reader cut off) is resumed; one that stalls or
            // garbles is a failure, never a silent reconnect.
            loop {
                let who = format!("a reader at {next}");
                let Some(event) = next_event(&mut events, STALL, &who).await else {
                    break;
                };
                assert_ne!(
                    event.event,
                    sse_runtime::RESET_EVENT,
                    "a reader fell out of history at {next}: {}",
                    event.data
                );
                let n: u64 = event.data[..7].parse().expect("numbered");
                assert_eq!(n, next, "no gap, no duplicate");
                next += 1;
                last_id = event.id;
                if next % 10_000 == 0 {
                    peak = peak.max(rss());
                }
                if next == EVENTS {
                    return peak;
                }
            }
            drop(events);
            client = Client::get(addr, path, &[("last-event-id", &last_id)]).await;
        }
    });
    let peaks = tokio::time::timeout(Duration::from_secs(300), join_all(read_all))
        .await
        .expect("the readers get everything");
    sender.await.unwrap();
    let peak = peaks.into_iter().max().unwrap_or(0).max(rss());
    println!("memory grew by {} KiB", peak.saturating_sub(before) / 1024);
    assert!(
        peak.saturating_sub(before) < MEMORY_BOUND,
        "memory grew by {} MiB",
        peak.saturating_sub(before) / (1 << 20)
    );

    // The stalled client now reads: what hyper and the sockets held, then the end of a
    // stream that was cut off, far short of every event.
    // (Once in about twenty runs of two of these binaries at once, a frame of this drain
    // was seen to take over 5 s; the wait is longer than `PATIENCE`, and a gap over 2 s
    // is printed, to tell a slow machine from a stream that never ends.)
    let mut drained = Vec::new();
    let mut last = std::time::Instant::now();
    while let Some(frame) = stalled.frame_within(Duration::from_secs(30)).await {
        if last.elapsed() > Duration::from_secs(2) {
            println!(
                "a gap of {:?} in the drain, after {} bytes",
                last.elapsed(),
                drained.len()
            );
        }
        last = std::time::Instant::now();
        drained.extend_from_slice(&frame);
    }
    // Counted by the independent parser: every whole event, named or not.
    let received = tests::events_in(&drained).await.len() as u64;
    assert!(
        received > 0,
        "the stalled client got the events it was sent before the cut"
    );
    println!("the stalled client got {received} events before it was cut off");
    assert!(
        received < EVENTS / 2,
        "cut off early, not fed everything: {received}"
    );
    // The log says who was cut off and why, for whoever wonders where a client went.
    let cut_off = logs::containing("events behind its queue and was cut off");
    assert!(
        cut_off.len() == 1 && cut_off[0].starts_with("DEBUG"),
        "one line for the one client cut off: {cut_off:?}"
    );
    // And the metric counts it, once.
    let rendered = metrics.render();
    assert!(
        rendered
            .lines()
            .any(|line| line == "sse_clients_cut_off_total 1"),
        "{rendered}"
    );
}
