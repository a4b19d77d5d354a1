//! A Redis that hangs rather than dies: busy in a script, stopped with SIGSTOP, or its
//! connection gone silent. A send is never reported as failed when it may have been
//! sent, and a retry with the same key sends it once; waiting sends share one
//! connection attempt; a connection that stopped answering is given up.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::redis_server::RedisServer;
use tests::relay::Relay;
use tests::{serve, take_events, Client};

/// The seed's view of channel `foo`.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

/// Keeps Redis busy in a script for `seconds`, from a thread of its own.
fn busy(redis: &RedisServer, seconds: u32) -> std::thread::JoinHandle<()> {
    let url = redis.url();
    let script = format!(
        "local start = redis.call('TIME')[1] while redis.call('TIME')[1] - start < {seconds} do end return 1"
    );
    std::thread::spawn(move || {
        let client = redis::Client::open(url).unwrap();
        let mut connection = client.get_connection().unwrap();
        let _: i64 = redis::cmd("EVAL")
            .arg(script)
            .arg(0)
            .query(&mut connection)
            .expect("the busy script runs");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_redis_took_and_did_not_answer_is_unknown_and_its_retry_sends_it_once() {
    let redis = RedisServer::start();
    let hub = Hub::builder()
        .redis_url(redis.url())
        .redis_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let app: Router = sse_routes![Stream1].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let client = Client::get(addr, "/stream1/", &[]).await;
    let mut events = client.events();
    hub.send_event("n", "before", "foo").await.expect("sent");

    let script = busy(&redis, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let event = Event::new().event("n").data("once");
    let first = hub.send_idempotent("foo", &event, "order-17").await;
    assert!(
        matches!(first, Err(Error::OutcomeUnknown(_))),
        "Redis took the send and did not answer in time: {first:?}"
    );
    script.join().unwrap();
    // The retry with the same key: Redis ran the first one when it could, so this one
    // sends nothing and says so by succeeding.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(error) = hub.send_idempotent("foo", &event, "order-17").await {
        assert!(Instant::now() < deadline, "the retry goes through: {error}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub.send_event("n", "after", "foo").await.expect("sent");
    let got = take_events(&mut events, 3).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["before", "once", "after"], "sent once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_a_hung_redis_share_one_connection_attempt() {
    let redis = RedisServer::start();
    let timeout = Duration::from_millis(500);
    let hub = Hub::builder()
        .redis_url(redis.url())
        .redis_timeout(timeout)
        .build()
        .unwrap();
    redis.pause();
    let started = Instant::now();
    let sends = join_all((0..12).map(|n| {
        let hub = hub.clone();
        async move {
            let sent = hub.send_event("n", n.to_string(), "foo").await;
            (sent, started.elapsed())
        }
    }))
    .await;
    redis.resume();
    for (sent, _) in &sends {
        assert!(
            matches!(sent, Err(Error::Redis(_))),
            "not connected, so not sent: {sent:?}"
        );
    }
    let slowest = sends.iter().map(|(_, took)| *took).max().unwrap();
    println!("12 sends to a hung Redis all failed within {slowest:?} (timeout {timeout:?})");
    // One at a time, the last would fail after 12 timeouts.
    assert!(
        slowest < timeout * 4,
        "the sends waited for one attempt together: the slowest took {slowest:?}"
    );
    // And once Redis answers again, so does the hub.
    let deadline = Instant::now() + Duration::from_secs(5);
    while hub.send_event("n", "back", "foo").await.is_err() {
        assert!(Instant::now() < deadline, "sending works again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_belongs_to_its_channel() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let event = Event::new().data("x");
    hub.send_idempotent("a:b", &event, "c").await.expect("sent");
    hub.send_idempotent("a", &event, "b:c").await.expect("sent");
    hub.send_idempotent("a", &event, "b:c")
        .await
        .expect("sent once");
    let length = |channel: &str| redis.query(&["XLEN", &format!("sse:history:{channel}")]);
    assert_eq!(length("a:b").unwrap(), redis::Value::Int(1));
    assert_eq!(
        length("a").unwrap(),
        redis::Value::Int(1),
        "another channel's key is not this one's, and a key is sent once"
    );
}

/// A send Redis refuses (another program made the channel's history something else
/// than a stream) fails as not sent, saying why, rather than as an unknown outcome; it
/// was not sent: the client's next event is the one after; and the hub keeps its command
/// connection, which answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_redis_refuses_is_not_sent_and_says_why() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let app: Router = sse_routes![Stream1].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let client = Client::get(addr, "/stream1/", &[]).await;
    let mut events = client.events();
    // The command connection opened, by a send that works. On another channel: the
    // history of `foo` is deleted below, and Redis would give its next event the same
    // id as this one if both fell in one millisecond, which the client would take for
    // a copy of one it had.
    hub.send_event("n", "before", "bar").await.expect("sent");
    let received_before = redis.connections_received();
    redis
        .query(&["SET", "sse:history:foo", "not a stream"])
        .unwrap();
    let refused = hub.send_event("n", "refused", "foo").await;
    match &refused {
        Err(Error::Redis(error)) => assert!(
            error.to_string().contains("WRONGTYPE"),
            "Redis's reason: {error}"
        ),
        other => panic!("refused, so not sent: {other:?}"),
    }
    redis.query(&["DEL", "sse:history:foo"]).unwrap();
    hub.send_event("n", "after", "foo").await.expect("sent");
    let got = take_events(&mut events, 1).await;
    assert_eq!(got[0].data, "after");
    // Counted by Redis: the test's SET, DEL and this reading, and none of the hub's. A
    // refusal is an answer, so the connection it came on stays the hub's.
    let opened = redis.connections_received() - received_before;
    assert_eq!(
        opened, 3,
        "a command Redis refused cost the next send a new connection"
    );
}

/// A command connection gone silent (open, and nothing comes back: a Redis gone without a
/// word, a dead NAT entry) is given up at its timeout: the send on it has an unknown
/// outcome, and the next one opens one new connection, on which it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_gone_silent_is_given_up_at_its_timeout() {
    let redis = RedisServer::start();
    let relay = Relay::start(([127, 0, 0, 1], redis.port()).into()).await;
    let hub = Hub::builder()
        .redis_url(format!("redis://{}/0", relay.addr()))
        .redis_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    hub.send_event("n", "before", "foo").await.expect("sent");
    assert_eq!(relay.accepted(), 1, "one command connection");
    relay.stall();
    let silent = hub.send_event("n", "unanswered", "foo").await;
    assert!(
        matches!(silent, Err(Error::OutcomeUnknown(_))),
        "written, and no answer: {silent:?}"
    );
    hub.send_event("n", "after", "foo")
        .await
        .expect("the next send, on a new connection");
    assert_eq!(relay.accepted(), 2, "one new connection, for the next send");
    // The relay passed nothing once silent: Redis has the two sent on live connections.
    assert_eq!(
        redis.query(&["XLEN", "sse:history:foo"]).unwrap(),
        redis::Value::Int(2)
    );
}
