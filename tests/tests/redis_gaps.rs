//! The gap a hub's subscriber leaves when Redis cuts it off: events another process
//! sends meanwhile, on several channels, reach the hub's clients once it is back, each
//! once and in order. Only the hub's subscriber is cut (`CLIENT KILL`), and Redis is
//! told to refuse new connections for a while (`maxclients`), so that the gap is long
//! and certain rather than a race: the test sees it open (`PUBSUB NUMSUB` is 0) before
//! it sends into it. One channel had no event while it was listened to: its gap is filled
//! from when it was subscribed, not from before. Meanwhile the hub tries to reconnect
//! with backoff, not in a loop. The hub's broker metrics tell the same story.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sse_runtime::prelude::*;
use tests::redis_server::RedisServer;
use tests::{serve, take_events_within, Client};

/// A channel per room, with a short keep-alive so that the streams show they are alive.
#[sse_view("/live/{room}", channel = "room:{room}", keep_alive = Duration::from_millis(200))]
pub struct Live;

const ROOMS: usize = 3;
/// The room that has had no event when the gap opens.
const QUIET: usize = ROOMS - 1;
const CLIENTS_PER_ROOM: usize = 2;
/// Sent into the gap, to each room.
const IN_THE_GAP: usize = 20;

/// The `CLIENT LIST` id of the connection subscribed to something: the listening hub's.
fn subscriber_id(admin: &mut redis::Connection) -> Option<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).ok()?;
    list.lines()
        .find(|line| {
            line.split(' ')
                .any(|field| field.starts_with("sub=") && field != "sub=0")
        })
        .and_then(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .map(str::to_owned)
}

/// The value of `series` in what the recorder renders, if it is there.
fn metric(metrics: &PrometheusHandle, series: &str) -> Option<f64> {
    metrics.render().lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn numsub(admin: &mut redis::Connection, channel: &str) -> i64 {
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(admin)
        .expect("PUBSUB NUMSUB");
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_subscriber_is_cut_off_reach_every_channel_once_it_is_back() {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the test binary's recorder");
    let redis = RedisServer::start();
    // The test's own connection, opened before Redis refuses new ones.
    let mut admin = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("an admin connection");
    let listening = Hub::redis(&redis.url()).unwrap();
    let sending = Hub::redis(&redis.url()).unwrap();
    // The quiet room's history holds an event from well before anyone listened (more
    // than the second of slack the subscriber allows for clocks).
    sending
        .send_event("n", "old", &format!("room:{QUIET}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let app: Router = sse_routes![Live].layer(Extension(listening.clone()));
    let addr = serve(app).await;
    let clients = join_all((0..ROOMS * CLIENTS_PER_ROOM).map(|n| async move {
        let room = n % ROOMS;
        (
            room,
            Client::get(addr, &format!("/live/{room}"), &[])
                .await
                .events(),
        )
    }))
    .await;
    // Before the gap, one event a room but the quiet one: each of those channels has a
    // position its clients hold, and the sending hub has its connection.
    for room in 0..QUIET {
        sending
            .send_event("n", "before", &format!("room:{room}"))
            .await
            .unwrap();
    }
    let mut streams = Vec::new();
    for (room, mut events) in clients {
        if room != QUIET {
            let got = take_events_within(&mut events, 1, Duration::from_secs(5)).await;
            assert_eq!(got[0].data, "before", "room {room}");
        }
        streams.push((room, events));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while numsub(&mut admin, &format!("room:{QUIET}")) < 1 {
        assert!(Instant::now() < deadline, "the quiet room is listened to");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Cut the listening hub's subscriber off, and keep it off: Redis takes no new
    // connection while it has as many as it has now.
    let connected: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
    let connected: i64 = connected
        .lines()
        .find_map(|line| line.strip_prefix("connected_clients:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("connected_clients");
    let id = subscriber_id(&mut admin).expect("the listening hub's subscriber");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(connected - 1)
        .query(&mut admin)
        .unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query(&mut admin)
        .unwrap();
    for room in 0..ROOMS {
        assert_eq!(
            numsub(&mut admin, &format!("room:{room}")),
            0,
            "the gap is open"
        );
    }

    // Another process sends into the gap, on every channel.
    for k in 0..IN_THE_GAP {
        for room in 0..ROOMS {
            sending
                .send_event("n", k.to_string(), &format!("room:{room}"))
                .await
                .expect("the sending hub's connection is untouched");
        }
    }
    for room in 0..ROOMS {
        assert_eq!(
            numsub(&mut admin, &format!("room:{room}")),
            0,
            "still in the gap"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&metrics, "sse_broker_connected") != Some(0.0) {
        assert!(Instant::now() < deadline, "the loss is reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&metrics, "sse_broker_reconnects_total"), Some(1.0));
    // Refused for 2 s, it tries again after 100 ms, 200 ms, 400 ms, ...: a handful of
    // attempts, not one after another.
    let rejected = |admin: &mut redis::Connection| -> i64 {
        let stats: String = redis::cmd("INFO").arg("stats").query(admin).unwrap();
        stats
            .lines()
            .find_map(|line| line.strip_prefix("rejected_connections:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("rejected_connections")
    };
    let before = rejected(&mut admin);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = rejected(&mut admin) - before;
    assert!(
        attempts <= 10,
        "{attempts} attempts to reconnect in 2 s: it backs off"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(10_000)
        .query(&mut admin)
        .unwrap();
    // Back: it resubscribes, and an event after the gap follows what was in it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while (0..ROOMS).any(|room| numsub(&mut admin, &format!("room:{room}")) < 1) {
        assert!(Instant::now() < deadline, "the hub resubscribes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for room in 0..ROOMS {
        sending
            .send_event("n", "after", &format!("room:{room}"))
            .await
            .unwrap();
    }

    for (room, mut events) in streams {
        let got = take_events_within(&mut events, IN_THE_GAP + 1, Duration::from_secs(15)).await;
        let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
        let mut expected: Vec<String> = (0..IN_THE_GAP).map(|k| k.to_string()).collect();
        expected.push("after".into());
        assert_eq!(
            data, expected,
            "room {room}: the gap, filled, each once, in order"
        );
    }
    assert_eq!(
        metric(&metrics, "sse_broker_connected"),
        Some(1.0),
        "reported back"
    );
}
