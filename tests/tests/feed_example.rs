//! The `feed` example as a user runs it: two instances on one Redis, a browser-like
//! client on each, every channel of a stream on one connection, resumed on the other
//! instance with one id, and presence counted across both, even after one is killed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tests::example::Example;
use tests::redis_server::RedisServer;
use tests::{take_events, Client, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends a request with a body on a connection of its own; the response's status line
/// and body.
async fn request(addr: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("request");
    let mut response = String::new();
    let read = tcp.read_to_string(&mut response);
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("an answer in time")
        .expect("an answer");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

async fn send(addr: &str, channel: &str, data: &str) {
    let (status, body) = request(addr, "POST", &format!("/send/{channel}"), data).await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "sent")
    );
}

async fn presence(addr: &str, channel: &str) -> String {
    request(addr, "GET", &format!("/presence/{channel}"), "")
        .await
        .1
}

/// Waits until `GET /presence/{channel}` answers `count`, for at most `wait`; how long
/// it took.
async fn presence_becomes(addr: &str, channel: &str, count: usize, wait: Duration) -> Duration {
    let expected = format!("{{\"channel\":\"{channel}\",\"count\":{count}}}");
    let start = Instant::now();
    loop {
        let answer = presence(addr, channel).await;
        if answer == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < wait,
            "presence of {channel} on {addr} is {answer}, not {count}, after {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn socket(example: &Example) -> SocketAddr {
    example.addr.parse().expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_feed_instances_share_channels_resume_and_count_presence_even_after_a_kill() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("SSE_REDIS_URL", url.as_str())];
    let one = Example::start_with("feed", &env);
    let mut two = Example::start_with("feed", &env);

    let stream = Client::get(socket(&one), "/feed?channel=a&channel=b", &[]).await;
    assert_eq!(stream.status, 200);
    let mut on_one = stream.events();
    let mut on_two = Client::get(socket(&two), "/feed?channel=a", &[])
        .await
        .events();
    let mut also_on_two = Client::get(socket(&two), "/feed?channel=a", &[])
        .await
        .events();
    for (addr, channel, count) in [
        (&one.addr, "a", 3),
        (&two.addr, "a", 3),
        (&two.addr, "b", 1),
    ] {
        presence_becomes(addr, channel, count, PATIENCE).await;
    }

    // Sent on either instance, heard on both, each event typed with its channel.
    send(&two.addr, "a", "to a").await;
    send(&one.addr, "b", "to b").await;
    let got = take_events(&mut on_one, 2).await;
    let got: Vec<(&str, &str)> = got
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(got, [("a", "to a"), ("b", "to b")]);
    for events in [&mut on_two, &mut also_on_two] {
        let event = take_events(events, 1).await.remove(0);
        assert_eq!((event.event.as_str(), event.data.as_str()), ("a", "to a"));
    }

    // Away from instance one, back on instance two with the last id: every event of
    // both channels sent meanwhile, once.
    let last = {
        send(&one.addr, "a", "seen").await;
        take_events(&mut on_one, 1).await.remove(0).id
    };
    drop(on_one);
    send(&two.addr, "b", "missed b").await;
    send(&one.addr, "a", "missed a").await;
    let resume = [("last-event-id", last.as_str())];
    let back = Client::get(socket(&two), "/feed?channel=a&channel=b", &resume);
    let mut back = back.await.events();
    let got = take_events(&mut back, 2).await;
    let mut got: Vec<(String, String)> = got.into_iter().map(|e| (e.event, e.data)).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a".to_owned(), "missed a".to_owned()),
            ("b".to_owned(), "missed b".to_owned())
        ]
    );

    // Instance two holds every stream on `a` now; killed without a goodbye, it drops
    // out of the count.
    presence_becomes(&one.addr, "a", 3, PATIENCE).await;
    let mut lone = Client::get(socket(&one), "/feed?channel=a", &[])
        .await
        .events();
    presence_becomes(&one.addr, "a", 4, PATIENCE).await;
    two.signal("KILL");
    let _ = two.child.wait();
    let gone = presence_becomes(&one.addr, "a", 1, Duration::from_secs(30)).await;
    eprintln!("a killed instance left the count after {gone:?}");
    send(&one.addr, "a", "still here").await;
    let event = take_events(&mut lone, 1).await.remove(0);
    assert_eq!(event.data, "still here");
    assert_eq!(
        presence(&one.addr, "nobody").await,
        "{\"channel\":\"nobody\",\"count\":0}"
    );
    let (status, _) = request(&one.addr, "GET", "/presence/a%20b", "").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
}
