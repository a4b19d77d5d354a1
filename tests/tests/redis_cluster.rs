//! A Redis Cluster losing a master: its replica takes over, the streams stay open, every
//! event whose send succeeded arrives once and in order (those sent during the failover
//! included, their gap filled from the new master's history), and every event sent
//! after the failover (and the old master's return as a replica) succeeds and arrives.
//! A binary of its own: it starts six `redis-server`s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::redis_cluster::RedisCluster;
use tests::{next_event, serve, Client, PATIENCE};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// The rooms the test sends to: spread over the three masters.
const ROOMS: usize = 6;

/// How long the test may send before the killed master's replica serves its slots.
const FAILOVER: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_fails_over_and_every_event_sent_arrives_once_in_order() {
    let mut cluster = RedisCluster::start();
    // The clients' hub, and another process's hub that sends; each send waits for a
    // replica to have the event, so that a send that succeeded survives the failover.
    let listening = Hub::builder()
        .redis_cluster(cluster.urls())
        .build()
        .unwrap();
    let sending = Hub::builder()
        .redis_cluster(cluster.urls())
        .replica_acks(1)
        .build()
        .unwrap();
    let app: Router = sse_routes![Live].layer(Extension(listening));
    let addr = serve(app).await;
    let paths: Vec<String> = (0..ROOMS).map(|room| format!("/live/{room}")).collect();
    let clients = join_all(paths.iter().map(|path| Client::get(addr, path, &[]))).await;
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    let masters: Vec<usize> = (0..ROOMS)
        .map(|room| cluster.master_of(&format!("room:{room}")))
        .collect();
    let victim = masters[0];

    // Sent per room, in order, and whether the send succeeded.
    let mut sent: HashMap<usize, Vec<(u64, bool)>> = HashMap::new();
    let mut n = 0;
    for _ in 0..20 {
        send_round(&sending, n, &mut sent).await;
        n += 1;
    }
    cluster.kill(victim);
    let killed = Instant::now();
    // Sending on while the replica takes over, until the cluster is whole again.
    loop {
        send_round(&sending, n, &mut sent).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if cluster.is_ok()
            && cluster
                .try_master_of("room:0")
                .is_some_and(|now| now != victim)
        {
            break;
        }
        assert!(killed.elapsed() < FAILOVER, "no replica took over");
    }
    let failed_over = n;
    // The dead master comes back, as the replica of the one that replaced it: until
    // then that shard has no replica to acknowledge a send.
    cluster.restart(victim);
    for _ in 0..20 {
        send_round(&sending, n, &mut sent).await;
        n += 1;
    }
    for room in 0..ROOMS {
        let after: Vec<u64> = sent[&room]
            .iter()
            .filter(|(n, ok)| *n >= failed_over && !ok)
            .map(|(n, _)| *n)
            .collect();
        assert!(
            after.is_empty(),
            "room {room}: sends after the failover failed: {after:?}"
        );
    }

    // Every client: each event whose send succeeded, once, in order; those whose send
    // failed may be there (the outcome of some was unknown), in order too.
    for (room, stream) in streams.iter_mut().enumerate() {
        let last = n - 1;
        let mut got = Vec::new();
        while got.last() != Some(&last) {
            let who = format!("room {room}");
            let event = next_event(stream, PATIENCE, &who).await;
            let event = event.unwrap_or_else(|| panic!("{who}: the stream ended"));
            got.push(event.data.parse::<u64>().expect("a number"));
        }
        assert!(
            got.windows(2).all(|pair| pair[0] < pair[1]),
            "room {room} in order, once: {got:?}"
        );
        let missing: Vec<u64> = sent[&room]
            .iter()
            .filter(|(n, ok)| *ok && !got.contains(n))
            .map(|(n, _)| *n)
            .collect();
        assert!(
            missing.is_empty(),
            "room {room} (master {}, killed {victim}): sent and never arrived: {missing:?}",
            masters[room]
        );
    }
}

/// Sends event `n` to every room, noting whether each send succeeded.
async fn send_round(hub: &Hub, n: u64, sent: &mut HashMap<usize, Vec<(u64, bool)>>) {
    for room in 0..ROOMS {
        let result = hub
            .send_event("n", n.to_string(), &format!("room:{room}"))
            .await;
        if let Err(error) = &result {
            assert!(
                matches!(error, Error::Redis(_) | Error::OutcomeUnknown(_)),
                "a send during the failover fails as a Redis error: {error:?}"
            );
        }
        sent.entry(room).or_default().push((n, result.is_ok()));
    }
}
