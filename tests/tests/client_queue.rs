//! How far a client may fall behind: 1,024 events by default, as the README states, or
//! the queue the hub is built with; a client cut off beyond that resumes from its id.
//! (A binary of its own: it moves some 250 MB through loopback.)

use std::time::Duration;

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::{next_event, serve, take_events_within, Client};
use tokio::net::TcpSocket;

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// The README's default, written here rather than taken from the crate.
const DEFAULT_QUEUE: u64 = 1024;
/// Big events, so that what the way to a client holds is few of them.
const DATA_BYTES: usize = 64 * 1024;
/// What a stream's writer may hold beside the sockets: the batch it is writing and the
/// next one, 64 events each.
const WRITER_EVENTS: u64 = 2 * 64;
/// What hyper's client may have read off the socket that its body was not asked for
/// (its read buffer stops at about 400 KiB).
const CLIENT_BUFFER_BYTES: u64 = 1 << 20;
/// How long a batch of events may take to arrive.
const WAIT: Duration = Duration::from_secs(60);

/// A client that reads nothing until the test reads its events, on a connection with a
/// small receive buffer, and how many events at most the way to it can hold: its
/// receive buffer, the most a server socket's send buffer grows to (the kernel's
/// `tcp_wmem`), hyper's buffer and the writer's batches.
async fn stalled(addr: std::net::SocketAddr, path: &str) -> (Client, u64) {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    let receive = u64::from(socket.recv_buffer_size().expect("SO_RCVBUF"));
    let tcp = socket.connect(addr).await.expect("connect");
    let client = Client::get_on(tcp, addr, path, &[]).await;
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").expect("procfs");
    let send: u64 = wmem
        .split_whitespace()
        .nth(2)
        .and_then(|max| max.parse().ok())
        .expect("tcp_wmem's maximum");
    let bytes = receive + send + CLIENT_BUFFER_BYTES;
    let events = bytes.div_ceil(DATA_BYTES as u64) + WRITER_EVENTS;
    (client, events)
}

/// Checks that `events` carry the numbers of `expected`, in order, each once.
#[track_caller]
fn assert_numbered(
    events: &[eventsource_stream::Event],
    expected: std::ops::Range<u64>,
    who: &str,
) {
    let got: Vec<u64> = events
        .iter()
        .map(|event| event.data[..7].parse().expect("numbered"))
        .collect();
    let wrong = got
        .iter()
        .zip(expected.clone())
        .position(|(n, want)| *n != want);
    assert!(
        got.len() as u64 == expected.end - expected.start && wrong.is_none(),
        "{who}: wanted {expected:?}, got {} events, the first wrong at {wrong:?}",
        got.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_may_fall_1024_events_behind_and_resumes_when_cut_off_beyond() {
    // The default queue; a history that holds the whole run, for the resume.
    let hub = Hub::builder()
        .history(4096)
        .history_bytes(512 << 20)
        .build()
        .unwrap();
    falls_behind_and_resumes(hub, DEFAULT_QUEUE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smaller_client_queue_cuts_a_client_off_sooner() {
    const QUEUE: u64 = 512;
    let hub = Hub::builder()
        .history(4096)
        .history_bytes(512 << 20)
        .client_queue(QUEUE as usize)
        .build()
        .unwrap();
    falls_behind_and_resumes(hub, QUEUE).await;
}

/// Two clients that read nothing while a queue's worth of events is sent: neither is
/// cut off. Then one reads along while the other falls further behind than `queue`
/// and all the way to it can hold: it is cut off, and back with its id gets the rest.
async fn falls_behind_and_resumes(hub: Hub, queue: u64) {
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let path = "/live/busy";
    let (within, _) = stalled(addr, path).await;
    let (beyond, on_the_way) = stalled(addr, path).await;
    assert!(
        on_the_way < queue / 2,
        "this machine's sockets hold too much for the test to tell: {on_the_way} events"
    );
    let padding = "x".repeat(DATA_BYTES - 8);
    let send = |numbers: std::ops::Range<u64>| {
        let (hub, padding) = (hub.clone(), padding.clone());
        async move {
            for n in numbers {
                let data = format!("{n:07} {padding}");
                hub.send_event("n", data, "room:busy").await.expect("sent");
            }
        }
    };

    // The queue's worth while neither client reads: a client this far behind is not
    // cut off, and gets every event.
    send(0..queue).await;
    let mut within = within.events();
    let got = take_events_within(&mut within, queue as usize, WAIT).await;
    assert_numbered(&got, 0..queue, "the client a queue behind");

    // Further, while `within` reads along: `beyond` falls more than its queue behind,
    // beyond all the way to it can hold, and is cut off.
    let total = queue + on_the_way + 1;
    let sender = tokio::spawn(send(queue..total));
    let rest = (total - queue) as usize;
    let got = take_events_within(&mut within, rest, WAIT).await;
    assert_numbered(&got, queue..total, "the client reading along");
    sender.await.expect("the sender");

    let mut beyond = beyond.events();
    let mut received = Vec::new();
    while (received.len() as u64) < total {
        match next_event(&mut beyond, WAIT, "the client behind").await {
            Some(event) => received.push(event),
            None => break,
        }
    }
    let cut_at = received.len() as u64;
    println!("cut off after {cut_at} of {total} events ({on_the_way} may be on the way)");
    assert!(
        cut_at > 0 && cut_at < total,
        "cut off after some of the {total} events: got {cut_at}"
    );
    assert_numbered(&received, 0..cut_at, "the client cut off");

    // Back with its id: the rest, each once, in order, and the stream stays open.
    let last = received.last().expect("some").id.clone();
    let mut resumed = Client::get(addr, path, &[("last-event-id", &last)])
        .await
        .events();
    let got = take_events_within(&mut resumed, (total - cut_at) as usize, WAIT).await;
    assert_numbered(&got, cut_at..total, "the client back with its id");
    send(total..total + 1).await;
    let got = take_events_within(&mut resumed, 1, WAIT).await;
    assert_numbered(&got, total..total + 1, "the client back, live");
}
