//! The example programs as a user runs them: their binaries, over real sockets, and
//! the signals a terminal or an orchestrator sends them.

use std::time::{Duration, Instant};

use tests::example::Example;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `GET path` with `headers` and reads what comes for at most `wait`: the raw
/// response, and whether the server ended it (the last chunk, or the connection closed).
async fn get(addr: &str, path: &str, headers: &str, wait: Duration) -> (String, bool) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n{headers}\r\n");
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let ended = loop {
        let mut chunk = [0; 4096];
        match tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(read)) => response.extend_from_slice(&chunk[..read]),
        }
        if response.ends_with(b"\r\n0\r\n\r\n") {
            break true;
        }
    };
    (String::from_utf8_lossy(&response).into_owned(), ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_every_stream_cleanly_and_the_example_exits() {
    let mut time = Example::start("time");
    let addr = time.addr.clone();
    let streams: Vec<_> = (0..50)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { get(&addr, "/time", "", Duration::from_secs(15)).await })
        })
        .collect();
    // Every stream has its first event before the signal.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signalled = Instant::now();
    time.signal("TERM");
    for stream in streams {
        let (response, ended) = stream.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("event: time\ndata: "), "{response}");
        assert!(
            ended && response.ends_with("\r\n0\r\n\r\n"),
            "the stream ended with its last chunk, not cut mid-way: {response:?}"
        );
        assert!(
            response.contains("retry: "),
            "told when to come back: {response:?}"
        );
    }
    let status = loop {
        if let Some(status) = time.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "the example exits after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean exit: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_resumes_from_the_last_id_and_survives_any_id() {
    let count = Example::start("count");
    let addr = count.addr.as_str();
    let path = "/count/10?step=5&every_ms=10";
    let (resumed, _) = get(
        addr,
        path,
        "last-event-id: 40\r\n",
        Duration::from_millis(300),
    )
    .await;
    assert!(resumed.contains("id: 45\ndata: 45\n\n"), "{resumed}");
    assert!(!resumed.contains("data: 40\n"), "{resumed}");
    // The largest number there is: nothing comes after it, and nothing breaks.
    let (last, ended) = get(
        addr,
        path,
        "last-event-id: 18446744073709551615\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(last.starts_with("HTTP/1.1 200"), "{last}");
    assert!(
        ended && !last.contains("data:"),
        "the count is over: {last}"
    );
    // An empty id is no id: it counts from the start.
    let (fresh, _) = get(
        addr,
        path,
        "last-event-id: \r\n",
        Duration::from_millis(300),
    )
    .await;
    assert!(fresh.contains("id: 10\ndata: 10\n\n"), "{fresh}");
}

/// Runs example `name` with `env` and returns the one line it printed on stderr before it
/// exited with a failure.
fn refusal(name: &str, env: &[(&str, &str)]) -> String {
    let refused = Example::run_to_exit(name, env);
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success(),
        "{name} refused to start: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn a_taken_address_or_a_bad_redis_url_stops_an_example_with_one_line_that_says_what_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let line = refusal("time", &[("SSE_ADDR", &addr)]);
    assert!(
        line.contains(&format!("cannot listen on {addr}")) && line.contains("set SSE_ADDR"),
        "{line}"
    );
    let line = refusal("redis_queue", &[("SSE_REDIS_URL", "http://127.0.0.1:6379")]);
    assert!(
        line.starts_with("bad configuration: the Redis URL `http://127.0.0.1:6379` cannot be used")
            && line.contains("write redis://host:port/db, or host:port")
            && !line.contains("bad configuration: bad configuration"),
        "{line}"
    );
    let line = refusal(
        "redis_queue",
        &[
            ("SSE_REDIS_URL", "127.0.0.1:6379"),
            ("SSE_REDIS_DB", "zero"),
        ],
    );
    assert!(
        line.contains("SSE_REDIS_DB=`zero` is not a database number"),
        "{line}"
    );
    let line = refusal(
        "redis_queue",
        &[
            ("SSE_REDIS_URL", "redis://127.0.0.1:6379/1"),
            ("SSE_REDIS_DB", "2"),
        ],
    );
    assert!(line.contains("unset SSE_REDIS_DB"), "{line}");
    let line = refusal(
        "redis_queue",
        &[
            ("SSE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("SSE_REDIS_CLUSTER", "redis://127.0.0.1:7000"),
        ],
    );
    assert!(
        line.contains("SSE_REDIS_CLUSTER names a Redis Cluster")
            && line.contains("set one of them"),
        "{line}"
    );
    let line = refusal(
        "redis_queue",
        &[(
            "SSE_REDIS_CLUSTER",
            "redis://127.0.0.1:7000,http://127.0.0.1:7001",
        )],
    );
    assert!(
        line.contains("the Redis URL `http://127.0.0.1:7001` cannot be used"),
        "{line}"
    );
    let line = refusal(
        "redis_queue",
        &[
            ("SSE_AMQP_URL", "amqp://127.0.0.1:5672/%2f"),
            ("SSE_REDIS_URL", "redis://127.0.0.1:6379/0"),
        ],
    );
    assert!(
        line.contains("SSE_AMQP_URL names RabbitMQ, and SSE_REDIS_URL Redis: set one of them"),
        "{line}"
    );
    let line = refusal("redis_queue", &[("SSE_AMQP_URL", "http://127.0.0.1:5672")]);
    assert!(
        line.contains("the AMQP URL `http://127.0.0.1:5672` cannot be used"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_location_and_db_are_a_redis_url() {
    let redis = tests::redis_server::RedisServer::start();
    let location = format!("127.0.0.1:{}", redis.port());
    // django-sse's REDIS_SSEQUEUE_CONNECTION_SETTINGS: {'location': ..., 'db': 3}
    let queue = Example::start_with(
        "redis_queue",
        &[("SSE_REDIS_URL", &location), ("SSE_REDIS_DB", "3")],
    );
    let addr = queue.addr.clone();
    let stream = tokio::spawn({
        let addr = addr.clone();
        async move { get(&addr, "/stream1/", "", Duration::from_secs(3)).await }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.numsub("foo") < 1 {
        assert!(Instant::now() < deadline, "the example subscribes on Redis");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, _) = get(&addr, "/someview", "", Duration::from_secs(2)).await;
    assert!(sent.contains("dummy response"), "{sent}");
    let (streamed, _) = stream.await.unwrap();
    assert!(streamed.contains("event: myevent\nid: "), "{streamed}");
    assert!(streamed.contains("data: mydata\n\n"), "{streamed}");
    // The channel's history is in database 3, as the settings say.
    let keyspace = redis.text(&["INFO", "keyspace"]);
    assert!(
        keyspace.contains("db3:keys=") && !keyspace.contains("db0:"),
        "{keyspace}"
    );
}

/// The seed's two examples with `env` and nothing else: `redis_queue` and
/// `dynamic_channel`, a client of channel `foo` on each; once `listening` says both
/// listen, each sends (`/someview` on the first, `/send/foo/?data=hi` on the second),
/// and every client must get both events, in order, their ids starting with `id`.
async fn seed_examples_hear_each_other(
    env: &[(&str, &str)],
    id: &str,
    mut listening: impl FnMut() -> bool,
) {
    let queue = Example::start_with("redis_queue", env);
    let dynamic = Example::start_with("dynamic_channel", env);
    let (a, b) = (queue.addr.clone(), dynamic.addr.clone());
    let wait = Duration::from_secs(4);
    let on_a = tokio::spawn({
        let a = a.clone();
        async move { get(&a, "/stream1/", "", wait).await }
    });
    let on_b = tokio::spawn({
        let b = b.clone();
        async move { get(&b, "/sse/foo/", "", wait).await }
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while !listening() {
        assert!(Instant::now() < deadline, "both examples listen to foo");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, _) = get(&a, "/someview", "", Duration::from_secs(2)).await;
    assert!(sent.contains("dummy response"), "{sent}");
    let (sent, _) = get(&b, "/send/foo/?data=hi", "", Duration::from_secs(2)).await;
    assert!(sent.contains("sent"), "{sent}");
    for (name, streamed) in [("redis_queue", on_a), ("dynamic_channel", on_b)] {
        let (streamed, _) = streamed.await.unwrap();
        let mydata = streamed
            .find(&format!("event: myevent\nid: {id}"))
            .map(|at| (at, streamed.find("data: mydata\n\n")));
        let hi = streamed.find("data: hi\n\n");
        assert!(
            matches!((mydata, hi), (Some((first, Some(_))), Some(second)) if first < second),
            "{name} got both sends, in order: {streamed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_examples_run_on_a_redis_cluster_configured_by_the_environment_alone() {
    let cluster = tests::redis_cluster::RedisCluster::start();
    let nodes = cluster.urls().join(",");
    // Both listen to `foo` on the shard that owns its slot.
    let master = &cluster.nodes()[cluster.master_of("foo")];
    let listeners = || match master.query(&["PUBSUB", "SHARDNUMSUB", "foo"]) {
        Ok(redis::Value::Array(items)) => match items.get(1) {
            Some(redis::Value::Int(count)) => *count,
            other => panic!("SHARDNUMSUB count: {other:?}"),
        },
        other => panic!("SHARDNUMSUB: {other:?}"),
    };
    let env = [("SSE_REDIS_CLUSTER", nodes.as_str())];
    seed_examples_hear_each_other(&env, "", || listeners() >= 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_examples_run_on_rabbitmq_configured_by_the_environment_alone() {
    let vhost = tests::rabbitmq::RabbitVhost::create();
    let url = vhost.url();
    let env = [
        ("SSE_AMQP_URL", url.as_str()),
        ("SSE_AMQP_STREAM", "seed.events"),
    ];
    // Both read the stream `SSE_AMQP_STREAM` names, once their first client came; the
    // stream's positions are the events' ids.
    let reading = || {
        vhost
            .queues()
            .contains(&("seed.events".to_owned(), "stream".to_owned(), 2))
    };
    seed_examples_hear_each_other(&env, "0-", reading).await;
}

/// Sends `POST path` with a JSON `body` and returns the status line.
async fn post_json(addr: &str, path: &str, body: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut response))
        .await
        .expect("a response in time")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn typed_rooms_hear_typed_events_and_a_countdown_resumes() {
    let typed = Example::start("typed");
    let addr = typed.addr.as_str();
    let room = tests::Client::get(addr.parse().unwrap(), "/rooms/7/events", &[]).await;
    assert_eq!(room.status, 200);
    let mut room = room.events();
    // `007` is room 7: the publisher and the view read the number the same way.
    let said = post_json(addr, "/rooms/007/messages", r#"{"name":"ann","text":"hi"}"#).await;
    assert_eq!(said, "HTTP/1.1 204 No Content");
    let joined = post_json(addr, "/rooms/7/members/bob", "").await;
    assert_eq!(joined, "HTTP/1.1 204 No Content");
    let got = tests::take_events(&mut room, 2).await;
    let seen: Vec<(&str, &str)> = got.iter().map(|e| (&*e.event, &*e.data)).collect();
    assert_eq!(
        seen,
        [
            ("said", r#"{"name":"ann","text":"hi"}"#),
            ("joined", r#"{"name":"bob"}"#)
        ]
    );
    let (refused, _) = get(addr, "/rooms/kitchen/events", "", Duration::from_secs(2)).await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");

    let (countdown, ended) = get(addr, "/countdown/1", "", Duration::from_secs(5)).await;
    assert!(ended, "the countdown ends: {countdown}");
    assert!(
        countdown.contains("event: tick\nid: 1\ndata: {\"done\":false}\n\n")
            && countdown.contains("event: tick\nid: 0\ndata: {\"done\":true}\n\n"),
        "{countdown}"
    );
    let (resumed, _) = get(
        addr,
        "/countdown/5",
        "last-event-id: 1\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(resumed.contains("id: 0\n"), "{resumed}");
    assert!(
        !resumed.contains("id: 1\n"),
        "resumed after the last id: {resumed}"
    );
}

/// The value of `series` (a name and its labels, as Prometheus writes them) in the
/// chat's `GET /metrics`, 0 if it is not there yet.
async fn metric(addr: &str, series: &str) -> f64 {
    let (page, _) = get(
        addr,
        "/metrics",
        "connection: close\r\n",
        Duration::from_secs(2),
    )
    .await;
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

/// Waits until `series` reads `expected`, for at most 5 s.
async fn metric_becomes(addr: &str, series: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = metric(addr, series).await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_chats_metrics_say_what_happened() {
    let chat = Example::start("chat");
    let addr = chat.addr.as_str();
    let socket: std::net::SocketAddr = addr.parse().unwrap();
    let open = r#"sse_streams_open{view="RoomEvents"}"#;
    let mut lobby = Vec::new();
    for _ in 0..5 {
        lobby.push(
            tests::Client::get(socket, "/rooms/lobby/events", &[])
                .await
                .events(),
        );
    }
    let kitchen = tests::Client::get(socket, "/rooms/kitchen/events", &[]).await;
    metric_becomes(addr, open, 6.0).await;

    for n in 0..3 {
        let body = format!(r#"{{"name":"ann","text":"hi {n}"}}"#);
        let sent = post_json(addr, "/rooms/lobby/messages", &body).await;
        assert_eq!(sent, "HTTP/1.1 204 No Content");
    }
    let mut last_id = String::new();
    for events in &mut lobby {
        let got = tests::take_events(events, 3).await;
        last_id = got[2].id.clone();
    }
    // Three events, each to the five clients of the lobby.
    metric_becomes(addr, "sse_events_delivered_total", 15.0).await;

    // A room name the hub refuses: the send fails, by kind.
    let refused = post_json(
        addr,
        "/rooms/a%20b/messages",
        r#"{"name":"ann","text":"hi"}"#,
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    metric_becomes(addr, r#"sse_send_errors_total{kind="bad_channel"}"#, 1.0).await;

    // A client that comes back with its last id resumes from history; one with an id the
    // hub never gave is told to reset.
    let id_header = format!("last-event-id: {last_id}\r\n");
    let _ = get(
        addr,
        "/rooms/lobby/events",
        &id_header,
        Duration::from_millis(200),
    )
    .await;
    metric_becomes(addr, r#"sse_resumes_total{outcome="history"}"#, 1.0).await;
    let _ = get(
        addr,
        "/rooms/lobby/events",
        "last-event-id: 7\r\n",
        Duration::from_millis(200),
    )
    .await;
    metric_becomes(addr, r#"sse_resumes_total{outcome="reset"}"#, 1.0).await;

    drop(lobby);
    drop(kitchen);
    metric_becomes(addr, open, 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_example_serves_tls_when_given_pem_files_over_http2_and_http1() {
    let certificate = tests::tls::SelfSigned::new();
    let (cert, key) = (
        certificate.cert.to_str().unwrap(),
        certificate.key.to_str().unwrap(),
    );
    let count = Example::start_with("count", &[("SSE_TLS_CERT", cert), ("SSE_TLS_KEY", key)]);
    let port: u16 = count.addr.rsplit_once(':').unwrap().1.parse().unwrap();

    // curl chooses HTTP/2 by ALPN; an HTTP/1.1 client gets the same events.
    let url = format!("https://localhost:{port}/count/1?to=3");
    let resolve = format!("localhost:{port}:127.0.0.1");
    for version in ["--http2", "--http1.1"] {
        let output = std::process::Command::new("curl")
            .args([version, "--silent", "--show-error", "--max-time", "20"])
            .args(["--cacert", cert, "--resolve", &resolve])
            .args(["--write-out", "HTTP/%{http_version}", &url])
            .output()
            .expect("curl runs (apt-get install curl)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{version}: {stdout}{:?}",
            output.stderr
        );
        let expected = match version {
            "--http2" => "HTTP/2",
            _ => "HTTP/1.1",
        };
        assert!(stdout.ends_with(expected), "{version}: {stdout}");
        let data: Vec<&str> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .collect();
        assert_eq!(data[..3], ["1", "2", "3"], "{version}: {stdout}");
    }

    // Plain HTTP to it is not served.
    let (plain, _) = get(&count.addr, "/count/1?to=3", "", Duration::from_secs(2)).await;
    assert!(!plain.contains("data: 1"), "{plain}");
}

#[test]
fn one_tls_variable_without_the_other_or_a_bad_file_stops_an_example_with_one_line() {
    let certificate = tests::tls::SelfSigned::new();
    let cert = certificate.cert.to_str().unwrap();
    let line = refusal("time", &[("SSE_TLS_CERT", cert)]);
    assert!(
        line.contains("set both SSE_TLS_CERT and SSE_TLS_KEY"),
        "{line}"
    );
    let line = refusal("time", &[("SSE_TLS_CERT", cert), ("SSE_TLS_KEY", cert)]);
    assert!(
        line.starts_with("cannot serve TLS: cannot read a private key from")
            && line.contains("set SSE_TLS_CERT and SSE_TLS_KEY"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_shows_a_span_per_stream_with_its_channel_client_resume_and_end() {
    let log = std::env::temp_dir().join(format!("sse-span-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let env = [("RUST_LOG", "sse_runtime=debug"), ("NO_COLOR", "1")];
    let mut example = Example::start_writing("redis_queue", &env, file);

    // A stream that resumes, and is left by its client.
    let (head, _) = get(
        &example.addr,
        "/stream1/",
        "last-event-id: 1700000000000-0\r\n",
        Duration::from_millis(500),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let logged = loop {
        let logged = std::fs::read_to_string(&log).unwrap();
        if logged.contains("stream ended") || Instant::now() > deadline {
            break logged;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    example.signal("TERM");
    let _ = example.child.wait();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<&str> = logged.lines().collect();
    for (what, end) in [("stream opened", ""), ("stream ended", "ended=")] {
        let line = lines
            .iter()
            .find(|line| line.contains(what))
            .unwrap_or_else(|| panic!("a line says {what:?}:\n{logged}"));
        for field in [
            "request{client=127.0.0.1:",
            "sse_stream{view=",
            "channel=\"foo\"",
            "resumed_from=\"1700000000000-0\"",
            end,
        ] {
            assert!(line.contains(field), "{field:?} in {line:?}");
        }
    }
}
