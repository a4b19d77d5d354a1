//! A network partition between a server and its Redis: the `dynamic_channel` example
//! runs in a network namespace of its own, reached by its clients over one link and
//! reaching Redis over another; that second link goes down for 10 s (every packet
//! dropped, no connection closed) while another process sends, and Redis drops the
//! server's sending connection, which the server cannot hear of. The streams stay open,
//! the server's own sends fail meanwhile and the first one after the link is back
//! succeeds, and every client gets every event sent during the partition, once, in
//! order, then what comes after. Needs root (`ip netns`), as `.ci/run` has.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use sse_runtime::Hub;
use tests::example::{binary, Example};
use tests::netns::Namespace;
use tests::redis_server::RedisServer;
use tests::{next_event, Client, PATIENCE};

/// How long the link to Redis is down.
const PARTITION: Duration = Duration::from_secs(10);

/// How long the streams may take to catch up once the link is back: TCP sends again
/// what was lost after a backoff that has grown during the partition.
const CATCH_UP: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cut_off_from_redis_keeps_its_streams_and_gets_what_was_sent_meanwhile() {
    let namespace = Namespace::create();
    let clients_link = namespace.link(0);
    let broker_link = namespace.link(1);
    let redis = RedisServer::start_with(vec![
        "--bind".into(),
        "127.0.0.1".into(),
        broker_link.host.to_string(),
    ]);
    let server_url = format!("redis://{}:{}/0", broker_link.host, redis.port());
    let addr = format!("{}:3000", clients_link.inside);
    let name = "dynamic_channel";
    let mut command = namespace.command(binary(name).to_str().expect("a UTF-8 path"));
    command.env("RUST_LOG", "off");
    let server = Example::start_as(
        command,
        name,
        addr.clone(),
        &[("SSE_REDIS_URL", &server_url)],
    );
    let addr: std::net::SocketAddr = server.addr.parse().unwrap();
    let mut streams = Vec::new();
    for _ in 0..2 {
        streams.push(Client::get(addr, "/sse/foo/", &[]).await.events());
    }
    // Another process, on the host: its sends reach Redis throughout.
    let sending = Hub::redis(&redis.url()).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while redis.numsub("foo") < 1 {
        assert!(Instant::now() < deadline, "the server listens to foo");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server's own send: it opens the server's connection that sends.
    let answer = Client::get(addr, "/send/foo/?data=before", &[]).await;
    assert_eq!(answer.status, 200, "the server sends");
    for stream in &mut streams {
        let event = next_event(stream, PATIENCE, "a client")
            .await
            .expect("open");
        assert_eq!(event.data, "before");
    }

    broker_link.down();
    let cut = Instant::now();
    // Redis lets go of the server's sending connection; its goodbye is lost in the cut.
    drop_connections_that_send(&redis, broker_link.inside);
    let mut sent = Vec::new();
    let mut server_refused = false;
    while cut.elapsed() < PARTITION {
        let n = sent.len().to_string();
        sending.send_event("n", n.clone(), "foo").await.unwrap();
        sent.push(n);
        if !server_refused {
            // The server's own send cannot reach Redis: an error, not a silent loss.
            let answer = Client::get(addr, "/send/foo/?data=lost", &[]).await;
            server_refused = answer.status != 200;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    broker_link.up();
    assert!(server_refused, "a send through the cut-off server fails");

    sending.send_event("n", "after", "foo").await.unwrap();
    sent.push("after".to_owned());
    // Once Redis can be reached from the server's side again (a link brought up takes
    // a moment to carry packets), the server's first send succeeds: a send that timed
    // out let go of its connection, so this one opens a new one rather than trying the
    // one Redis dropped.
    let deadline = Instant::now() + CATCH_UP;
    while !reaches(&namespace, broker_link.host, redis.port()) {
        assert!(Instant::now() < deadline, "Redis is reachable again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = Client::get(addr, "/send/foo/?data=again", &[]).await;
    let status = answer.status;
    assert_eq!(
        status,
        200,
        "the server's first send after the partition: {}",
        answer.text().await
    );
    for (index, stream) in streams.iter_mut().enumerate() {
        let who = format!("client {index}");
        let mut got = Vec::new();
        while got.last().map(String::as_str) != Some("again") {
            let event = next_event(stream, CATCH_UP, &who).await;
            let event = event.unwrap_or_else(|| panic!("{who}: the stream stayed open"));
            got.push(event.data);
        }
        got.pop();
        // The server's own send that failed may arrive too: it was written, and Redis
        // may run it once the link is back (its error said the outcome was unknown).
        let theirs = got.iter().filter(|data| *data == "lost").count();
        assert!(
            theirs <= 1,
            "{who}: the failed send arrived at most once: {got:?}"
        );
        got.retain(|data| data != "lost");
        assert_eq!(
            got, sent,
            "{who}: every event sent during the partition, once, in order"
        );
    }
}

/// Closes, on Redis's side, the connections from `from` that are subscribed to nothing:
/// the server's sending connection, not its subscriber's.
fn drop_connections_that_send(redis: &RedisServer, from: Ipv4Addr) {
    let list = redis.text(&["CLIENT", "LIST"]);
    let sending: Vec<&str> = list
        .lines()
        .filter(|line| line.contains(&format!(" addr={from}:")))
        .filter(|line| {
            ["sub=", "psub=", "ssub="].iter().all(|count| {
                line.split(' ')
                    .any(|field| field.strip_prefix(count) == Some("0"))
            })
        })
        .filter_map(|line| line.split(' ').next()?.strip_prefix("id="))
        .collect();
    assert_eq!(sending.len(), 1, "the server's sending connection: {list}");
    redis.query(&["CLIENT", "KILL", "ID", sending[0]]).unwrap();
}

/// Whether `redis-cli` inside the namespace gets an answer from Redis at `host:port`.
fn reaches(namespace: &Namespace, host: Ipv4Addr, port: u16) -> bool {
    namespace
        .command("timeout")
        .args([
            "2",
            "redis-cli",
            "-h",
            &host.to_string(),
            "-p",
            &port.to_string(),
            "PING",
        ])
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"PONG"))
}
