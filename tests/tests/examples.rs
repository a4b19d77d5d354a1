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
