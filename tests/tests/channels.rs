//! Channel views and `send_event`, one suite run against both backends: the embedded hub
//! and a real `redis-server` started by the test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::backend::Backend;
use tests::on_both_backends;
use tests::redis_server::RedisServer;
use tests::{logs, serve, take_events, Client, PATIENCE};

/// The seed's `RedisQueueView.as_view(redis_channel="foo")`.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

/// A channel per room, from the path.
#[sse_view("/rooms/{room}", channel = "room:{room}")]
pub struct Rooms;

/// A channel named by the query, unchecked: the crate's rule must refuse what it must.
#[sse_view("/by-query", channel = query_channel)]
pub struct ByQuery;

async fn query_channel(Query(query): Query<HashMap<String, String>>) -> String {
    query.get("name").cloned().unwrap_or_default()
}

/// Two rooms in one stream.
#[sse_view("/pair/{a}/{b}", channels = ["room:{a}", "room:{b}"])]
pub struct Pair;

/// A channel that only the holder of a token may listen to.
#[sse_view("/private/{id}", channel = private_channel)]
pub struct Private;

async fn private_channel(Path(id): Path<u32>, headers: HeaderMap) -> Result<String, StatusCode> {
    match headers.get("x-token") {
        Some(token) if token == "let me in" => Ok(format!("private:{id}")),
        _ => Err(StatusCode::FORBIDDEN),
    }
}

fn app(hub: &Hub) -> Router {
    sse_routes![Stream1, Rooms, Private, ByQuery, Pair].layer(Extension(hub.clone()))
}

async fn server(hub: &Hub) -> SocketAddr {
    serve(app(hub)).await
}

on_both_backends!(
    every_client_gets_every_event_of_its_channel_and_no_other,
    the_seed_view_streams_what_send_event_sends,
    hostile_channel_names_are_refused_before_any_broker_sees_them,
    a_resolver_picks_the_channel_or_refuses,
    a_key_sends_its_event_once_a_channel,
);

async fn every_client_gets_every_event_of_its_channel_and_no_other(backend: Backend) {
    const CHANNELS: usize = 50;
    const PER_CHANNEL: usize = 10;
    const EVENTS: usize = 5;
    let hub = backend.hub();
    let addr = server(&hub).await;
    let clients = join_all((0..CHANNELS * PER_CHANNEL).map(|n| async move {
        let room = n % CHANNELS;
        (
            room,
            Client::get(addr, &format!("/rooms/r{room}"), &[]).await,
        )
    }))
    .await;
    assert!(clients.iter().all(|(_, client)| client.status == 200));
    if let Some(redis) = &backend.redis {
        assert_eq!(
            redis.subscriber_connections(),
            1,
            "one subscriber connection for 500 clients"
        );
    }
    if let Some(cluster) = &backend.cluster {
        let subscribers: Vec<usize> = cluster
            .nodes()
            .iter()
            .map(RedisServer::subscriber_connections)
            .collect();
        // 50 channels fall on all three masters' slots; replicas carry none.
        assert_eq!(
            subscribers.iter().sum::<usize>(),
            3,
            "one subscriber connection on each master for 500 clients: {subscribers:?}"
        );
        assert!(
            subscribers.iter().all(|&count| count <= 1),
            "{subscribers:?}"
        );
    }
    let received_before = backend
        .redis
        .as_ref()
        .map(RedisServer::connections_received);
    let cluster_received_before: Vec<u64> = backend
        .cluster
        .iter()
        .flat_map(|cluster| {
            cluster
                .nodes()
                .iter()
                .map(RedisServer::connections_received)
        })
        .collect();
    for k in 0..EVENTS {
        for room in 0..CHANNELS {
            hub.send_event("say", format!("r{room}:{k}"), &format!("room:r{room}"))
                .await
                .expect("sent");
        }
    }
    if let (Some(redis), Some(before)) = (&backend.redis, received_before) {
        // Counted by Redis, so that a connection opened and closed per send shows.
        let opened = redis.connections_received() - before - 1;
        assert!(
            opened <= 1,
            "{opened} connections opened to send {} events: the command connection, once",
            EVENTS * CHANNELS
        );
        assert_eq!(
            redis.connections(),
            2,
            "the process listens on one connection and sends on one other"
        );
    }
    if let Some(cluster) = &backend.cluster {
        for (node, before) in cluster.nodes().iter().zip(cluster_received_before) {
            let opened = node.connections_received() - before - 1;
            assert!(
                opened <= 1,
                "{opened} connections opened to node {} to send: the command connection, once",
                node.port()
            );
            assert!(
                node.connections() <= 2,
                "a node has {} connections: one to listen, one to send",
                node.connections()
            );
        }
    }
    if let Some(amqp) = &backend.amqp {
        assert_eq!(
            amqp.connections(),
            1,
            "one connection to RabbitMQ, to listen and to send"
        );
    }
    for room in 0..CHANNELS {
        hub.send_event("end", "", &format!("room:r{room}"))
            .await
            .expect("sent");
    }
    let received = join_all(clients.into_iter().map(|(room, client)| async move {
        let mut events = client.events();
        let got = take_events(&mut events, EVENTS + 1).await;
        (room, got)
    }))
    .await;
    for (room, got) in &received {
        let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
        let expected: Vec<String> = (0..EVENTS).map(|k| format!("r{room}:{k}")).collect();
        assert_eq!(data[..EVENTS], expected, "room {room}");
        assert_eq!(
            got[EVENTS].event, "end",
            "nothing else came first in room {room}"
        );
    }
    drop(received);
    if let Some(redis) = &backend.redis {
        let deadline = Instant::now() + Duration::from_secs(1);
        let subscribed = |redis: &RedisServer| {
            (0..CHANNELS)
                .filter(|room| redis.numsub(&format!("room:r{room}")) > 0)
                .count()
        };
        while subscribed(redis) > 0 {
            assert!(
                Instant::now() < deadline,
                "UNSUBSCRIBE within 1 s of the last client leaving"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if let Some(cluster) = &backend.cluster {
        let deadline = Instant::now() + Duration::from_secs(1);
        let subscribed = || {
            cluster
                .nodes()
                .iter()
                .map(RedisServer::subscriber_connections)
                .sum::<usize>()
        };
        while subscribed() > 0 {
            assert!(
                Instant::now() < deadline,
                "SUNSUBSCRIBE within 1 s of the last client leaving"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while hub.listened_channels() > 0 {
        assert!(
            Instant::now() < deadline,
            "the hub forgets channels nobody listens to"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_seed_view_streams_what_send_event_sends(backend: Backend) {
    let hub = backend.hub();
    let addr = server(&hub).await;
    let client = Client::get(addr, "/stream1/", &[]).await;
    assert_eq!(client.headers["content-type"], "text/event-stream");
    hub.send_event("myevent", "mydata", "foo")
        .await
        .expect("sent");
    hub.send_json("json", &serde_json::json!({"a": [1, 2]}), "foo")
        .await
        .expect("sent");
    let got = take_events(&mut client.events(), 2).await;
    assert_eq!(
        (got[0].event.as_str(), got[0].data.as_str()),
        ("myevent", "mydata")
    );
    assert_eq!(
        (got[1].event.as_str(), got[1].data.as_str()),
        ("json", r#"{"a":[1,2]}"#)
    );
}

/// `send_idempotent`: an event sent again with a key already used on its channel is not
/// sent again, however many other keys came between; the same key on another channel,
/// or another key, sends.
async fn a_key_sends_its_event_once_a_channel(backend: Backend) {
    let hub = backend.hub();
    let addr = server(&hub).await;
    let mut here = Client::get(addr, "/rooms/here", &[]).await.events();
    let mut there = Client::get(addr, "/rooms/there", &[]).await.events();
    let event = |data: &str| Event::new().event("order").data(data);
    for (channel, key, data) in [
        ("room:here", "17", "first"),
        ("room:here", "18", "second"),
        ("room:here", "17", "first again"),
        ("room:there", "17", "elsewhere"),
        ("room:here", "18", "second again"),
    ] {
        hub.send_idempotent(channel, &event(data), key)
            .await
            .expect("sent, or known as sent");
    }
    hub.send("room:here", &event("last")).await.expect("sent");
    let got = take_events(&mut here, 3).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["first", "second", "last"]);
    let got = take_events(&mut there, 1).await;
    assert_eq!(got[0].data, "elsewhere");
}

async fn hostile_channel_names_are_refused_before_any_broker_sees_them(backend: Backend) {
    let hub = backend.hub();
    let addr = server(&hub).await;
    // `room:` and 251 bytes is the longest name, 256 bytes; one more is refused.
    let (longest, too_long, far_too_long) = ("x".repeat(251), "x".repeat(252), "x".repeat(10_000));
    let pattern = "it holds a pattern character (`*`, `?`, `[` or `]`)";
    let space = "it holds a control character or white space";
    let slash = "it holds `/` or `\\`";
    let refused = [
        ("a*b", pattern),
        ("a%3Fb", pattern),
        ("%5Bab", pattern),
        ("ab%5D", pattern),
        ("a%0Ab", space),
        ("a%0Db", space),
        ("a%00b", space),
        ("a%20b", space),
        ("a%09b", space),
        ("a%C2%A0b", space),
        ("a%5Cb", slash),
        ("..%2F..%2Fetc", slash),
        (too_long.as_str(), "it is longer than 256 bytes"),
        (far_too_long.as_str(), "it is longer than 256 bytes"),
    ];
    for (room, reason) in refused {
        for path in [
            format!("/rooms/{room}"),
            format!("/by-query?name=room:{room}"),
        ] {
            let client = Client::get(addr, &path, &[]).await;
            assert_eq!(client.status, 400, "{path:.40}");
            let text = client.text().await;
            assert_eq!(text, format!("bad channel name: {reason}"), "{path:.40}");
        }
    }
    let client = Client::get(addr, "/by-query", &[]).await;
    assert_eq!(client.status, 400, "an empty name");
    assert_eq!(client.text().await, "bad channel name: it is empty");
    assert_eq!(hub.listened_channels(), 0);
    if let Some(redis) = &backend.redis {
        assert_eq!(redis.subscriber_connections(), 0, "no subscription at all");
        assert_eq!(
            redis.query(&["PUBSUB", "NUMPAT"]).unwrap(),
            redis::Value::Int(0)
        );
    }
    for forged_name in ["a\ndata: forged", "a\rdata: forged", "a\r\ndata: forged"] {
        let forged = hub.send_event(forged_name, "x", "foo").await;
        assert!(matches!(forged, Err(Error::LineBreak(_))), "{forged:?}");
    }
    assert!(matches!(
        hub.send_event("e", "x", "a*").await,
        Err(Error::BadChannel(_))
    ));

    // The longest name is taken, by both views.
    for path in [
        format!("/rooms/{longest}"),
        format!("/by-query?name=room:{longest}"),
    ] {
        let client = Client::get(addr, &path, &[]).await;
        assert_eq!(client.status, 200, "{path:.40}");
    }
}

async fn a_resolver_picks_the_channel_or_refuses(backend: Backend) {
    let hub = backend.hub();
    let addr = server(&hub).await;
    assert_eq!(Client::get(addr, "/private/7", &[]).await.status, 403);
    assert_eq!(Client::get(addr, "/private/seven", &[]).await.status, 400);
    let client = Client::get(addr, "/private/7", &[("x-token", "let me in")]).await;
    assert_eq!(client.status, 200);
    hub.send_event("secret", "for 7", "private:7")
        .await
        .unwrap();
    let got = take_events(&mut client.events(), 1).await;
    assert_eq!(got[0].data, "for 7");
}

#[tokio::test]
async fn two_servers_on_one_redis_share_their_channels() {
    let redis = RedisServer::start();
    let (hub_a, hub_b) = (
        Hub::redis(&redis.url()).unwrap(),
        Hub::redis(&redis.url()).unwrap(),
    );
    let (addr_a, _addr_b) = (server(&hub_a).await, server(&hub_b).await);
    let client = Client::get(addr_a, "/rooms/shared", &[]).await;
    hub_b
        .send_event("hello", "from b", "room:shared")
        .await
        .unwrap();
    let got = take_events(&mut client.events(), 1).await;
    assert_eq!(
        (got[0].event.as_str(), got[0].data.as_str()),
        ("hello", "from b")
    );
}

#[tokio::test]
async fn other_programs_publish_plain_text_or_envelopes() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = server(&hub).await;
    let client = Client::get(addr, "/stream1/", &[]).await;
    let cli = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "PUBLISH", "foo", "hello"])
        .output()
        .expect("redis-cli runs");
    assert_eq!(
        String::from_utf8_lossy(&cli.stdout).trim(),
        "1",
        "one subscriber got it"
    );
    python_publish(&[
        &redis.port().to_string(),
        "foo",
        "myevent",
        "7",
        "from python\nline 2",
    ])
    .await;
    let got = take_events(&mut client.events(), 2).await;
    assert_eq!(
        (got[0].event.as_str(), got[0].data.as_str()),
        ("message", "hello")
    );
    assert_eq!(
        (
            got[1].event.as_str(),
            got[1].id.as_str(),
            got[1].data.as_str()
        ),
        ("myevent", "", "from python\nline 2"),
        "ids belong to the hub: the envelope's is not sent"
    );
    // An id that is no hub's: resuming from it resets.
    let again = Client::get(addr, "/stream1/", &[("last-event-id", "7")]).await;
    let reset = take_events(&mut again.events(), 1).await;
    assert_eq!(reset[0].event, sse_runtime::RESET_EVENT);
}

/// On RabbitMQ another program publishes by putting a message on the hub's stream with
/// the header `sse-channel` (here with lapin, as any AMQP client would): plain text and
/// django-sse's `[event, data]` reach the channel's clients live and without an id, and
/// the hub's own events around them keep theirs. (And the stream the hub declared keeps
/// what the README says by default: 256 MiB, a day.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_programs_publish_on_the_rabbitmq_stream() {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::{BasicProperties, Connection, ConnectionProperties};

    let backend = Backend::amqp();
    let vhost = backend.amqp.as_ref().expect("a RabbitMQ backend");
    let hub = backend.hub();
    let addr = server(&hub).await;
    let mut client = Client::get(addr, "/stream1/", &[]).await;
    // The raw stream, so that an event without an id is told from one whose id line
    // is missing (a parser hands on the last id it saw).
    let mut wire = String::new();
    let read_until = async |client: &mut Client, wire: &mut String, data: &str| {
        while !wire.contains(data) {
            let frame = client
                .frame_within(PATIENCE)
                .await
                .expect("the stream goes on");
            wire.push_str(std::str::from_utf8(&frame).expect("UTF-8"));
        }
    };
    // The hub's own event first: once it arrived, the hub reads the stream live.
    hub.send_event("own", "first", "foo").await.unwrap();
    read_until(&mut client, &mut wire, "data: first\n\n").await;
    wire.clear();
    // The stream the hub made keeps, by default, 256 MiB and a day.
    let arguments = vhost.queue_arguments(sse_runtime::DEFAULT_AMQP_STREAM);
    assert!(
        arguments.contains("268435456") && arguments.contains("86400s"),
        "{arguments}"
    );

    let connection = Connection::connect(&vhost.url(), ConnectionProperties::default())
        .await
        .expect("lapin connects");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    for body in ["hello", r#"["myevent", "mydata"]"#] {
        let mut headers = FieldTable::default();
        headers.insert("sse-channel".into(), AMQPValue::LongString("foo".into()));
        let confirm = channel
            .basic_publish(
                "".into(),
                sse_runtime::DEFAULT_AMQP_STREAM.into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_headers(headers),
            )
            .await
            .expect("published");
        assert!(confirm.await.expect("confirmed").is_ack(), "{body}");
    }
    hub.send_event("own", "last", "foo").await.unwrap();

    read_until(&mut client, &mut wire, "data: last\n\n").await;
    let blocks: Vec<&str> = wire
        .split_terminator("\n\n")
        .filter(|block| !block.starts_with(':'))
        .collect();
    assert_eq!(
        blocks.len(),
        3,
        "two events of another program and one of the hub: {wire:?}"
    );
    assert_eq!(
        blocks[..2],
        ["data: hello", "event: myevent\ndata: mydata"],
        "another program's events, without an id"
    );
    assert!(
        blocks[2].starts_with("event: own\nid: 0-") && blocks[2].ends_with("\ndata: last"),
        "the hub's own, with its id: {:?}",
        blocks[2]
    );
}

/// A hub's `Debug`, for logs, says how many channels it listens to.
#[tokio::test]
async fn a_hub_s_debug_says_how_many_channels_it_listens_to() {
    let hub = Hub::embedded();
    assert_eq!(format!("{hub:?}"), "Hub { channels: 0, .. }");
    let addr = server(&hub).await;
    let _client = Client::get(addr, "/rooms/a", &[]).await;
    assert_eq!(format!("{hub:?}"), "Hub { channels: 1, .. }");
    assert_eq!(hub.listened_channels(), 1);
}

/// Runs `tests/interop/publish.py` with `args`, and checks that one subscriber got it.
/// On a blocking thread: a runtime thread held while Python starts would hold up the hub
/// under test (its Redis commands time out after a second).
async fn python_publish(args: &[&str]) {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let python = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/interop/publish.py"))
            .args(&args)
            .output()
    })
    .await
    .expect("the blocking task")
    .expect("python3 runs");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        "1",
        "one subscriber got it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_django_app_that_still_publishes_as_django_sse_reaches_clients_unchanged() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = server(&hub).await;
    let mut events = Client::get(addr, "/stream1/", &[]).await.events();
    let port = redis.port().to_string();
    // `send_event("myevent", "mydata", channel="foo")`, as the seed's README writes it.
    python_publish(&["--django-sse", &port, "foo", "myevent", "mydata"]).await;
    // Python's json.dumps escapes what is not ASCII and the line break: they arrive as sent.
    python_publish(&["--django-sse", &port, "foo", "greeting", "héllo\nwörld ✓"]).await;
    python_publish(&[
        "--django-sse",
        &port,
        "foo",
        "score",
        r#"{"home": 2}"#,
        "--json",
    ])
    .await;
    // A name with a line break would forge a field: skipped, and the stream goes on.
    python_publish(&["--django-sse", &port, "foo", "a\nid: 9", "forged"]).await;
    python_publish(&["--django-sse", &port, "foo", "last", "one"]).await;
    let got = take_events(&mut events, 4).await;
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("myevent", "mydata"),
            ("greeting", "héllo\nwörld ✓"),
            ("score", r#"{"home":2}"#),
            ("last", "one"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_other_programs_publish_never_move_a_channel() {
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = server(&hub).await;
    let mut events = Client::get(addr, "/stream1/", &[]).await.events();
    let publish = |payload: &str| {
        let received = redis.query(&["PUBLISH", "foo", payload]).expect("PUBLISH");
        assert_eq!(received, redis::Value::Int(1), "one subscriber got it");
    };
    publish(r#"{"$sse":1,"id":"99999999999999-0","data":"far future"}"#);
    hub.send_event("n", "after", "foo").await.expect("sent");
    publish(r#"{"$sse":1,"id":"1-0","data":"far past"}"#);
    publish(r#"{"$sse":1,"$id":"99999999999999-0","data":"forged hub id"}"#);
    hub.send_event("n", "last", "foo").await.expect("sent");
    let got = take_events(&mut events, 4).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(
        data,
        ["far future", "after", "far past", "last"],
        "foreign events are delivered live, the hub's keep coming, a forged hub id is skipped"
    );
    let ids: Vec<&str> = got.iter().map(|event| event.id.as_str()).collect();
    assert!(
        ids[1] < ids[3] && ids[1].contains('-'),
        "the hub's ids: {ids:?}"
    );
    // Resuming from the hub's id of "after" misses nothing the hub sent since.
    let again = Client::get(addr, "/stream1/", &[("last-event-id", ids[1])]).await;
    let resumed = take_events(&mut again.events(), 1).await;
    assert_eq!(resumed[0].data, "last");
}

#[tokio::test]
async fn a_stream_s_span_names_its_channels() {
    logs::capture();
    let hub = Hub::embedded();
    let addr = server(&hub).await;
    let one = Client::get(addr, "/rooms/spanned", &[]).await;
    let two = Client::get(addr, "/pair/left/right", &[]).await;
    assert!(one.status == 200 && two.status == 200);
    let recorded = logs::containing("RECORD channel=");
    for channels in [r#""room:spanned""#, r#""room:left,room:right""#] {
        assert!(
            recorded
                .iter()
                .any(|line| line.ends_with(&format!("channel={channels}"))),
            "a span records channel={channels}: {recorded:?}"
        );
    }
}

#[tokio::test]
async fn a_payload_that_is_no_event_is_logged_and_skipped() {
    logs::capture();
    let redis = RedisServer::start();
    let hub = Hub::redis(&redis.url()).unwrap();
    let addr = server(&hub).await;
    let client = Client::get(addr, "/stream1/", &[]).await;
    redis
        .query(&[
            "PUBLISH",
            "foo",
            r#"{"$sse":1,"event":"x\nid: 666","data":"forged"}"#,
        ])
        .unwrap();
    redis.query(&["PUBLISH", "foo", "after"]).unwrap();
    let got = take_events(&mut client.events(), 1).await;
    assert_eq!(got[0].data, "after");
    assert_eq!(got[0].id, "", "no forged id");
    let logged = logs::containing("was skipped");
    assert!(
        logged
            .iter()
            .any(|line| line.starts_with("WARN") && line.contains("`foo`")),
        "{logged:?}"
    );
}

#[tokio::test]
async fn sending_without_redis_is_an_error_not_a_silent_loss() {
    let redis = RedisServer::start();
    let url = redis.url();
    drop(redis);
    let hub = Hub::redis(&url).unwrap();
    let sent = tokio::time::timeout(PATIENCE, hub.send_event("e", "lost?", "foo")).await;
    assert!(matches!(sent, Ok(Err(Error::Redis(_)))), "{sent:?}");
    let refused = Hub::redis("no such url").unwrap_err();
    assert!(refused.to_string().contains("cannot be used"), "{refused}");
}
