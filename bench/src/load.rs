//! The load client: many real HTTP/1.1 connections, each reading its stream with an SSE
//! parser, counting what arrives, how late, and in what order.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{stream, StreamExt};
use http_body_util::{BodyStream, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long opening all the connections of a scenario may take; those not open by then
/// count as not held.
const OPENING_LIMIT: Duration = Duration::from_secs(60);

/// The most bytes handed to a connection's parser at a time.
const PARSER_PIECE: usize = 256;

/// What one connection saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) received: u64,
    pub(crate) duplicated: u64,
    pub(crate) out_of_order: u64,
    /// Send-to-receipt times, in microseconds.
    pub(crate) latencies: Vec<u32>,
}

/// Open connections, each read by a task until told to stop.
pub(crate) struct Load {
    tasks: Vec<JoinHandle<Seen>>,
    stop: watch::Sender<bool>,
    received: Arc<AtomicU64>,
    /// How many connections got a `200` stream.
    pub(crate) held: usize,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// Opens `count` streams on `path` (in which `{i}` stands for each stream's number), at
/// most `parallel` handshakes at a time, from source addresses spread over
/// 127.0.0.2–251 so that ports do not run short.
pub(crate) async fn open(addr: SocketAddr, path: &str, count: usize, parallel: usize) -> Load {
    let (stop, stopped) = watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    // A server that cannot accept (out of file descriptors) would otherwise keep each
    // handshake waiting for its timeout, a batch at a time.
    let deadline = Instant::now() + OPENING_LIMIT;
    let opened: Vec<Option<JoinHandle<Seen>>> = stream::iter(0..count)
        .map(|index| {
            let stopped = stopped.clone();
            let path = path.replace("{i}", &index.to_string());
            let received = received.clone();
            async move {
                let connecting = connect(addr, &path, index, stopped, received);
                tokio::time::timeout_at(deadline.into(), connecting)
                    .await
                    .ok()
                    .flatten()
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let tasks: Vec<JoinHandle<Seen>> = opened.into_iter().flatten().collect();
    Load {
        held: tasks.len(),
        tasks,
        stop,
        received,
    }
}

async fn connect(
    addr: SocketAddr,
    path: &str,
    index: usize,
    mut stopped: watch::Receiver<bool>,
    received: Arc<AtomicU64>,
) -> Option<JoinHandle<Seen>> {
    let tcp = connect_from(addr, index).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .ok()?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header("host", "bench")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .ok()?
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let frames = BodyStream::new(response.into_body())
        .filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok::<_, hyper::Error>),
                Err(error) => Some(Err(error)),
            }
        })
        // The parser copies what is left of its buffer at every line: fed a whole
        // write of many events at once, it would spend its time copying, and the
        // latency measured would be its own.
        .flat_map(|data| {
            let pieces: Vec<Result<Bytes, hyper::Error>> = match data {
                Ok(data) => (0..data.len())
                    .step_by(PARSER_PIECE)
                    .map(|at| Ok(data.slice(at..(at + PARSER_PIECE).min(data.len()))))
                    .collect(),
                Err(error) => vec![Err(error)],
            };
            stream::iter(pieces)
        });
    Some(tokio::spawn(async move {
        let mut events = std::pin::pin!(frames.eventsource());
        let mut seen = Seen::default();
        let mut last: Option<u64> = None;
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                _ = stopped.wait_for(|stop| *stop) => None,
            };
            let Some(Ok(event)) = event else { break };
            let mut parts = event.data.split(' ');
            let (Some(n), Some(sent)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(n), Ok(sent)) = (n.parse::<u64>(), sent.parse::<u128>()) else {
                continue;
            };
            seen.received += 1;
            received.fetch_add(1, Ordering::Relaxed);
            seen.latencies
                .push((now_ns().saturating_sub(sent) / 1000).min(u32::MAX as u128) as u32);
            match last {
                Some(last) if n == last => seen.duplicated += 1,
                Some(last) if n < last => seen.out_of_order += 1,
                _ => {}
            }
            last = Some(last.map_or(n, |last| last.max(n)));
        }
        driver.abort();
        seen
    }))
}

impl Load {
    /// Waits until `total` events arrived in all, or none arrived for `quiet`; returns
    /// when the last one arrived.
    pub(crate) async fn wait_for(&self, total: u64, quiet: Duration) -> Instant {
        let (mut count, mut last_change) = (0, Instant::now());
        loop {
            let now = self.received.load(Ordering::Relaxed);
            if now != count {
                (count, last_change) = (now, Instant::now());
            }
            if count >= total || last_change.elapsed() > quiet {
                return last_change;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every reader and gathers what each saw.
    pub(crate) async fn finish(self) -> Vec<Seen> {
        let _ = self.stop.send(true);
        let mut seen = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            if let Ok(one) = task.await {
                seen.push(one);
            }
        }
        seen
    }
}

/// A TCP connection to `addr` from source address 127.0.0.(2 + index % 250).
async fn connect_from(addr: SocketAddr, index: usize) -> Option<TcpStream> {
    let source = Ipv4Addr::new(127, 0, 0, 2 + (index % 250) as u8);
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).ok()?;
    tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
        .await
        .ok()?
        .ok()
}

/// Opens `count` streams on `path` that never read a byte of their response, each on a
/// connection with a small receive buffer: clients that stopped reading. They hold
/// their connections until dropped.
pub(crate) async fn stall(addr: SocketAddr, path: &str, count: usize) -> Vec<TcpStream> {
    let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n");
    let mut stalled = Vec::with_capacity(count);
    for _ in 0..count {
        let Ok(socket) = TcpSocket::new_v4() else {
            continue;
        };
        let _ = socket.set_recv_buffer_size(16 * 1024);
        let Ok(mut tcp) = socket.connect(addr).await else {
            continue;
        };
        if tcp.write_all(request.as_bytes()).await.is_ok() {
            stalled.push(tcp);
        }
    }
    stalled
}

/// What a churn did.
pub(crate) struct Churned {
    /// Streams opened (answered `200`) and closed again.
    pub(crate) streams: usize,
    /// Attempts that got no stream.
    pub(crate) failed: usize,
}

/// Opens `per_second` streams a second for `seconds`, each on one of `channels` user
/// channels from `first_channel` on, each held for 100 to 900 ms and closed: clients
/// coming and going. Bounded: `per_second * seconds` connections in all.
pub(crate) async fn churn(
    addr: SocketAddr,
    path: &'static str,
    per_second: u64,
    seconds: u64,
    first_channel: u64,
    channels: u64,
) -> Churned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ticks = tokio::time::interval(Duration::from_nanos(1_000_000_000 / per_second));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..per_second * seconds {
        ticks.tick().await;
        tasks.spawn(async move {
            let hold = Duration::from_millis(100 + (k.wrapping_mul(7919) % 800));
            let channel = first_channel + k % channels;
            let opened = async {
                let mut tcp = connect_from(addr, k as usize).await?;
                let path = path.replace("{i}", &channel.to_string());
                let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n");
                tcp.write_all(request.as_bytes()).await.ok()?;
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0; 512];
                    match tcp.read(&mut chunk).await.ok()? {
                        0 => return None,
                        read => head.extend_from_slice(&chunk[..read]),
                    }
                }
                head.starts_with(b"HTTP/1.1 200").then_some(tcp)
            };
            match tokio::time::timeout(Duration::from_secs(5), opened).await {
                Ok(Some(tcp)) => {
                    tokio::time::sleep(hold).await;
                    drop(tcp);
                    true
                }
                _ => false,
            }
        });
    }
    let mut churned = Churned {
        streams: 0,
        failed: 0,
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(true) => churned.streams += 1,
            _ => churned.failed += 1,
        }
    }
    churned
}
