//! A Redis Cluster losing a master: its replica takes over, the streams stay open, every
//! event whose send succeeded arrives once and in order (those sent during the failover
//! included, their gap filled from the new master's history), and every event sent
//! after the failover (and the old master's return as a replica) succeeds and arrives.
//! And a node that cuts the listening hub off and refuses it for a while: what another
//! process sends meanwhile, on channels of every shard, arrives once it is back. A
//! binary of its own: each test starts six `redis-server`s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::redis_cluster::RedisCluster;
use tests::{next_event, serve, take_events_within, Client, PATIENCE};

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
    // A replica's acknowledgement can take most of a second: its WAIT is given 1.5 s.
    let sending = Hub::builder()
        .redis_cluster(cluster.urls())
        .replica_acks(1)
        .redis_timeout(Duration::from_secs(3))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_sent_while_a_node_refuses_the_listening_hub_arrives_once_it_is_back() {
    const IN_THE_GAP: usize = 20;
    let cluster = RedisCluster::start();
    let listening = Hub::redis_cluster(cluster.urls()).unwrap();
    let sending = Hub::redis_cluster(cluster.urls()).unwrap();
    let app: Router = sse_routes![Live].layer(Extension(listening));
    let addr = serve(app).await;
    let paths: Vec<String> = (0..ROOMS).map(|room| format!("/live/{room}")).collect();
    let clients = join_all(paths.iter().map(|path| Client::get(addr, path, &[]))).await;
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    for (room, stream) in streams.iter_mut().enumerate() {
        let channel = format!("room:{room}");
        sending.send_event("n", "before", &channel).await.unwrap();
        let got = take_events_within(stream, 1, PATIENCE).await;
        assert_eq!(got[0].data, "before", "room {room}");
    }
    let victim = cluster.master_of("room:0");
    let node = &cluster.nodes()[victim];
    // The test's own connection, opened before the node refuses new ones.
    let mut admin = redis::Client::open(format!("redis://127.0.0.1:{}", node.port()))
        .and_then(|client| client.get_connection())
        .expect("an admin connection");
    let listeners = |admin: &mut redis::Connection| -> i64 {
        let reply: (String, i64) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg("room:0")
            .query(admin)
            .expect("SHARDNUMSUB");
        reply.1
    };
    assert_eq!(
        listeners(&mut admin),
        1,
        "the listening hub listens on the node"
    );
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    let subscriber = list
        .lines()
        .find(|line| {
            line.split(' ')
                .any(|field| field.starts_with("ssub=") && field != "ssub=0")
        })
        .and_then(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .expect("the listening hub's subscriber")
        .to_owned();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(1)
        .query(&mut admin)
        .unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&subscriber)
        .query(&mut admin)
        .unwrap();
    assert_eq!(listeners(&mut admin), 0, "the gap is open");
    // Another process sends into the gap, on every room, every shard.
    for k in 0..IN_THE_GAP {
        for room in 0..ROOMS {
            sending
                .send_event("n", k.to_string(), &format!("room:{room}"))
                .await
                .expect("the sending hub's connections are untouched");
        }
    }
    assert_eq!(listeners(&mut admin), 0, "still in the gap");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(10_000)
        .query(&mut admin)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while listeners(&mut admin) < 1 {
        assert!(Instant::now() < deadline, "the hub listens again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for room in 0..ROOMS {
        sending
            .send_event("n", "after", &format!("room:{room}"))
            .await
            .unwrap();
    }
    let expected: Vec<String> = (0..IN_THE_GAP)
        .map(|k| k.to_string())
        .chain(["after".to_owned()])
        .collect();
    for (room, stream) in streams.iter_mut().enumerate() {
        let got = take_events_within(stream, expected.len(), PATIENCE).await;
        let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(
            data, expected,
            "room {room}: the gap filled, once, in order"
        );
    }
    // Nothing more, for a second: no copy of what the gap filling delivered.
    for (room, stream) in streams.iter_mut().enumerate() {
        let more = tokio::time::timeout(
            Duration::from_secs(1),
            futures_util::StreamExt::next(stream),
        )
        .await;
        assert!(
            more.is_err(),
            "room {room}: nothing after `after`: {more:?}"
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
