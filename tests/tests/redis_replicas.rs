//! `replica_acks` on one Redis with a replica (README, "Redis Cluster": "It works on one
//! Redis with replicas too"): a send succeeds once the replica has the event, and with
//! no replica in step its outcome is unknown, though live clients have the event. By
//! default a send waits for no replica: Redis is never asked to `WAIT`.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::redis_server::RedisServer;
use tests::{serve, take_events, Client};

/// The clients of channel `room`.
#[sse_view("/room/", channel = "room")]
pub struct Room;

/// How many times Redis ran `WAIT`, as its own `INFO commandstats` counts.
fn waits(redis: &RedisServer) -> u64 {
    redis
        .text(&["INFO", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_wait:calls="))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// Waits until `replica` is in step with `master`, as a `WAIT` counts it.
fn wait_until_replicated(master: &RedisServer, replica: &RedisServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(master.replicas_in_step() == 1
        && replica
            .text(&["INFO", "replication"])
            .contains("master_link_status:up"))
    {
        assert!(Instant::now() < deadline, "the replica did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_waits_for_a_replica_and_without_one_its_outcome_is_unknown() {
    let master = RedisServer::start_with(vec!["--repl-diskless-sync-delay".into(), "0".into()]);
    // The replica writes what it syncs to a file first: in a directory of its own.
    let dir = std::env::temp_dir().join(format!("sse-replica-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the replica");
    let mut replica = RedisServer::start_with(vec![
        "--replicaof".into(),
        "127.0.0.1".into(),
        master.port().to_string(),
        "--dir".into(),
        dir.to_str().expect("a UTF-8 temporary directory").into(),
    ]);
    wait_until_replicated(&master, &replica);
    let history = "sse:history:room";

    // The default: no replica waited for.
    let plain = Hub::redis(&master.url()).unwrap();
    plain
        .send_event("n", "plain", "elsewhere")
        .await
        .expect("sent");
    assert_eq!(
        waits(&master),
        0,
        "a send of a default hub asks for no WAIT"
    );

    // Each WAIT takes half of it: a replica's acknowledgement took up to 0.9 s here.
    let timeout = Duration::from_secs(3);
    let hub = Hub::builder()
        .redis_url(master.url())
        .redis_timeout(timeout)
        .replica_acks(1)
        .build()
        .unwrap();
    let app: Router = sse_routes![Room].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let client = Client::get(addr, "/room/", &[]).await;
    let mut events = client.events();

    let started = Instant::now();
    hub.send_event("n", "kept", "room")
        .await
        .expect("the replica has it");
    println!("a send a replica acknowledged took {:?}", started.elapsed());
    assert_eq!(waits(&master), 1, "one WAIT for the one send");
    // WAIT answered 1: the replica holds the event already.
    assert_eq!(
        replica.query(&["XLEN", history]).unwrap(),
        redis::Value::Int(1),
        "the replica's copy of the history"
    );

    replica.kill();
    let sent = hub.send_event("n", "unsure", "room").await;
    match &sent {
        Err(Error::OutcomeUnknown(error)) => {
            let said = error.to_string();
            assert!(
                said.contains("too few replicas have the event") && said.contains("0 of 1"),
                "the error says why: {said}"
            );
        }
        other => panic!("no replica had it, so its outcome is unknown: {other:?}"),
    }
    // Sent all the same: the master keeps it and live clients have it.
    assert_eq!(
        master.query(&["XLEN", history]).unwrap(),
        redis::Value::Int(2)
    );
    let got = take_events(&mut events, 2).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["kept", "unsure"]);

    // The replica back, sends succeed again.
    replica.restart();
    wait_until_replicated(&master, &replica);
    hub.send_event("n", "again", "room")
        .await
        .expect("the replica is back");
    assert_eq!(take_events(&mut events, 1).await[0].data, "again");
    drop(replica);
    let _ = std::fs::remove_dir_all(dir);
}
