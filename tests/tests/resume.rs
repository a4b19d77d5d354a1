//! Nothing lost, nothing twice: clients that come and go at random while events flow get
//! exactly the sequence that was sent, by resuming with `Last-Event-ID`.

use std::time::Duration;

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use tests::backend::Backend;
use tests::{next_event, on_both_backends, serve, take_events, Client};

/// A channel per room.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Rooms;

fn app(hub: &Hub) -> Router {
    sse_routes![Rooms].layer(Extension(hub.clone()))
}

/// How long a stream may be silent while events flow before the test fails.
const STALL: Duration = Duration::from_secs(10);

/// A small deterministic generator of "random" moments.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

on_both_backends!(
    clients_that_leave_and_come_back_get_every_event_once_in_order,
    a_client_resuming_while_events_flow_gets_history_then_live_in_order,
    an_id_the_history_does_not_hold_gets_a_reset_event,
    the_default_history_keeps_the_last_thousand_events,
);

async fn clients_that_leave_and_come_back_get_every_event_once_in_order(backend: Backend) {
    const EVENTS: u64 = 10_000;
    const CLIENTS: u64 = 50;
    let hub = backend.hub_with(|hub| hub.history(EVENTS as usize));
    let addr = serve(app(&hub)).await;
    let path = "/rooms/storm";
    // Everyone is listening before the first event.
    let clients = join_all((0..CLIENTS).map(|_| Client::get(addr, path, &[]))).await;
    let sender = {
        let hub = hub.clone();
        tokio::spawn(async move {
            for n in 0..EVENTS {
                hub.send_event("n", n.to_string(), "room:storm")
                    .await
                    .expect("sent");
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let readers = clients
        .into_iter()
        .enumerate()
        .map(|(index, mut client)| async move {
            let mut moments = XorShift(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
            let mut received: Vec<(String, u64)> = Vec::new();
            let mut reconnections = 0;
            loop {
                // Leave after a random number of events, as a flaky network does.
                let mut budget = moments.below(800) + 1;
                let mut events = client.events();
                // A stream the server ends (a client cut off for falling behind) is
                // resumed; one that stalls or garbles is a failure, never a silent
                // reconnect.
                loop {
                    let who = format!("client {index}");
                    let Some(event) = next_event(&mut events, STALL, &who).await else {
                        break;
                    };
                    assert_ne!(
                        event.event,
                        sse_runtime::RESET_EVENT,
                        "the history holds it all"
                    );
                    let n: u64 = event.data.parse().expect("a number");
                    received.push((event.id.clone(), n));
                    if n == EVENTS - 1 {
                        return (received, reconnections);
                    }
                    budget -= 1;
                    if budget == 0 {
                        break;
                    }
                }
                drop(events);
                let last = received
                    .last()
                    .map(|(id, _)| id.clone())
                    .unwrap_or_default();
                client = Client::get(addr, path, &[("last-event-id", &last)]).await;
                reconnections += 1;
            }
        });
    let results = tokio::time::timeout(Duration::from_secs(240), join_all(readers))
        .await
        .expect("every client reaches the last event");
    sender.await.expect("the sender finishes");
    let expected: Vec<u64> = (0..EVENTS).collect();
    let mut total_reconnections = 0;
    for (index, (received, reconnections)) in results.iter().enumerate() {
        let numbers: Vec<u64> = received.iter().map(|(_, n)| *n).collect();
        assert!(numbers == expected, "client {index}: a gap or a duplicate");
        let ids: Vec<&String> = received.iter().map(|(id, _)| id).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] != pair[1]),
            "client {index}: ids repeat"
        );
        total_reconnections += reconnections;
    }
    assert!(
        total_reconnections >= CLIENTS,
        "the clients did come and go: {total_reconnections}"
    );
}

/// A resume whose history is two pages (100 events each) and more than one write
/// (64) of the last page, while the sender goes on: the live events queued meanwhile
/// come after the history, never between two of its writes. Twenty resumes, each
/// about 180 events behind.
async fn a_client_resuming_while_events_flow_gets_history_then_live_in_order(backend: Backend) {
    const RESUMES: usize = 20;
    const BEHIND: u64 = 180;
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let path = "/rooms/flow";
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sender = {
        let (hub, sent) = (hub.clone(), sent.clone());
        tokio::spawn(async move {
            // Bounded: at most a minute of events, one every 200 µs or so.
            for n in 0..300_000u64 {
                hub.send_event("n", n.to_string(), "room:flow")
                    .await
                    .expect("sent");
                sent.store(n + 1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    };
    let mut client = Client::get(addr, path, &[]).await;
    let mut previous: Option<u64> = None;
    for resume in 0..RESUMES {
        // Read a few, leave, let BEHIND more be sent, come back.
        let mut events = client.events();
        let mut last_id = String::new();
        for event in take_events(&mut events, 5).await {
            let n: u64 = event.data.parse().expect("a number");
            if let Some(previous) = previous {
                assert_eq!(
                    n,
                    previous + 1,
                    "resume {resume}: in order, nothing lost or twice"
                );
            }
            previous = Some(n);
            last_id = event.id;
        }
        drop(events);
        let target = previous.unwrap_or(0) + BEHIND;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while sent.load(std::sync::atomic::Ordering::SeqCst) <= target {
            assert!(tokio::time::Instant::now() < deadline, "the sender goes on");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        client = Client::get(addr, path, &[("last-event-id", &last_id)]).await;
    }
    sender.abort();
}

async fn an_id_the_history_does_not_hold_gets_a_reset_event(backend: Backend) {
    let hub = backend.hub_with(|hub| hub.history(5));
    let addr = serve(app(&hub)).await;
    let client = Client::get(addr, "/rooms/short", &[]).await;
    let mut events = client.events();
    // Redis trims `MAXLEN ~` by whole nodes of 100 entries: send well past that.
    for n in 0..300 {
        hub.send_event("n", n.to_string(), "room:short")
            .await
            .unwrap();
    }
    let first = take_events(&mut events, 300).await.remove(0);
    drop(events);
    let mut stale = vec!["1-0", "never-issued", "99999999999999-0"];
    let trimmed = "the first id of a history trimmed to 5 events is reset";
    let why = "its history is one stream for every channel, bounded in bytes and age, not in events a channel";
    if backend.gives(trimmed, &[("amqp", why)]) {
        stale.insert(0, first.id.as_str());
    }
    for stale in stale {
        let client = Client::get(addr, "/rooms/short", &[("last-event-id", stale)]).await;
        assert_eq!(client.status, 200);
        let mut events = client.events();
        let reset = take_events(&mut events, 1).await.remove(0);
        assert_eq!(reset.event, sse_runtime::RESET_EVENT, "for {stale}");
        hub.send_event("n", "live", "room:short").await.unwrap();
        let live = take_events(&mut events, 1).await.remove(0);
        assert_eq!(live.data, "live", "the live stream follows the reset");
    }
    // An empty id is no id (a browser whose id an event emptied sends none): no reset.
    let client = Client::get(addr, "/rooms/short", &[("last-event-id", "")]).await;
    let mut events = client.events();
    hub.send_event("n", "first", "room:short").await.unwrap();
    let first = take_events(&mut events, 1).await.remove(0);
    assert_eq!((first.event.as_str(), first.data.as_str()), ("n", "first"));
}

/// RabbitMQ bounds its one stream in bytes and drops it a segment (1 MiB here) at a
/// time: once some 5 MiB went through a history of 2 MiB, the first event is gone, and
/// a client resuming from it is told to reset, never handed what is left as if nothing
/// were missing. Retention runs in RabbitMQ's background, so until it has, a resume
/// from the first event gets the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_before_what_rabbitmq_kept_gets_a_reset_event_on_amqp() {
    const EVENTS: usize = 50;
    let backend = Backend::amqp();
    let hub = backend.hub_with(|hub| hub.history_bytes(2 << 20));
    let addr = serve(app(&hub)).await;
    let mut events = Client::get(addr, "/rooms/big", &[]).await.events();
    let padding = "x".repeat(100_000);
    for n in 0..EVENTS {
        hub.send_event("n", format!("{n} {padding}"), "room:big")
            .await
            .unwrap();
    }
    let first = take_events(&mut events, 1).await.remove(0);
    assert!(first.data.starts_with("0 "), "the first event first");
    drop(events);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let client = Client::get(addr, "/rooms/big", &[("last-event-id", &first.id)]).await;
        let mut events = client.events();
        let next = take_events(&mut events, 1).await.remove(0);
        if next.event == sse_runtime::RESET_EVENT {
            break;
        }
        assert!(
            next.data.starts_with("1 "),
            "resumed after the first event, the next is the second, or a reset: got {:.20}",
            next.data
        );
        assert!(
            std::time::Instant::now() < deadline,
            "RabbitMQ's retention dropped the first segment of 5 MiB sent to a 2 MiB history"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The README's 1,000, with every setting left at its default: a client that resumes
/// from the 101st of 1,100 events gets the 999 after it; on the embedded hub, which
/// keeps exactly 1,000, one that resumes from the 100th is told to reset.
async fn the_default_history_keeps_the_last_thousand_events(backend: Backend) {
    const SENT: usize = 1_100;
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let mut events = Client::get(addr, "/rooms/defaults", &[]).await.events();
    // Read while sending, the sender never more than 500 ahead: the default queue
    // (1,024) is less than what is sent, and a loaded machine must not make the reader
    // fall behind it.
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let read = read.clone();
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(SENT);
            while ids.len() < SENT {
                ids.push(take_events(&mut events, 1).await.remove(0).id);
                read.store(ids.len(), std::sync::atomic::Ordering::SeqCst);
            }
            ids
        })
    };
    for n in 0..SENT {
        while n - read.load(std::sync::atomic::Ordering::SeqCst).min(n) > 500 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        hub.send_event("n", n.to_string(), "room:defaults")
            .await
            .unwrap();
    }
    let ids: Vec<String> = reader.await.unwrap();
    assert_eq!(ids.len(), SENT);

    let client = Client::get(addr, "/rooms/defaults", &[("last-event-id", &ids[100])]).await;
    let mut events = client.events();
    let resumed = take_events(&mut events, SENT - 101).await;
    let data: Vec<String> = resumed.iter().map(|e| e.data.clone()).collect();
    let expected: Vec<String> = (101..SENT).map(|n| n.to_string()).collect();
    assert_eq!(data, expected, "the 999 events after the 101st, in order");

    if backend.is_embedded() {
        let client = Client::get(addr, "/rooms/defaults", &[("last-event-id", &ids[99])]).await;
        let reset = take_events(&mut client.events(), 1).await.remove(0);
        assert_eq!(
            reset.event,
            sse_runtime::RESET_EVENT,
            "the 100th is no longer kept"
        );
        assert!(
            reset.data.contains(&format!("after {} ", ids[99])),
            "the reset names the id it cannot resume from: {:?}",
            reset.data
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_channel_nobody_sends_to_expires_on_redis() {
    let backend = Backend::redis();
    let redis = backend.redis.as_ref().expect("a Redis backend");
    let lasting = backend.hub();
    lasting.send_event("n", "1", "room:lasting").await.unwrap();
    let ttl = redis.query(&["TTL", "sse:history:room:lasting"]).unwrap();
    // The README's "a day", written here rather than read from the crate.
    let day = 86_400;
    assert!(
        matches!(ttl, redis::Value::Int(seconds) if (day - 5..=day).contains(&seconds)),
        "a day by default: {ttl:?}"
    );

    let brief = backend.hub_with(|hub| hub.history_ttl(Duration::from_secs(2)));
    brief.send_event("n", "1", "room:brief").await.unwrap();
    let exists = || redis.query(&["EXISTS", "sse:history:room:brief"]).unwrap();
    assert_eq!(exists(), redis::Value::Int(1));
    // A later event renews the time to live: counted from the last event, not the first.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    brief.send_event("n", "2", "room:brief").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_eq!(
        exists(),
        redis::Value::Int(1),
        "renewed by the second event"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        exists(),
        redis::Value::Int(0),
        "gone two seconds after the last event"
    );
}
