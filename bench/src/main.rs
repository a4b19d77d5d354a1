//! The benchmark: this crate against hand-written axum SSE servers, measured in one run
//! so that every figure can be read as a ratio on the same machine at the same moment.
//!
//! ```text
//! cargo run --release -p sse-bench -- --scenario all
//! cargo run -p sse-bench -- --scenario smoke      # seconds; what CI runs
//! ```
//!
//! Each server runs as a child process (`sse-bench server <config> <port>`), so its
//! memory and CPU time are its own. See BENCHMARKS.md for the scenarios and a run.

mod load;
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::redis_server::RedisServer;

/// One scenario: how many clients, how many events, how fast, which configurations.
struct Scenario {
    name: &'static str,
    clients: usize,
    events: u64,
    /// Events a second; 0 for as fast as the server sends them.
    rate: u64,
    size: u64,
    configs: &'static [&'static str],
    /// The route the clients read: `/events` (a channel), `/users/{i}` (a channel per
    /// client) or `/burst` (made by the handler).
    path: &'static str,
    /// 0: every event goes to channel `bench`; else each goes to one of this many user
    /// channels, and so to one client.
    channels: u64,
}

const STREAMING: &[&str] = &["embedded", "redis", "hub", "naive"];

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "smoke",
        clients: 50,
        events: 100,
        rate: 1000,
        size: 64,
        configs: STREAMING,
        path: "/events",
        channels: 0,
    },
    Scenario {
        name: "S1",
        clients: 1_000,
        events: 200,
        rate: 100,
        size: 64,
        configs: STREAMING,
        path: "/events",
        channels: 0,
    },
    Scenario {
        name: "S2",
        clients: 10_000,
        events: 20,
        rate: 0,
        size: 64,
        configs: &["embedded", "embedded-axum", "redis", "hub", "naive"],
        path: "/events",
        channels: 0,
    },
    Scenario {
        name: "S3",
        clients: 100,
        events: 20_000,
        rate: 0,
        size: 64,
        configs: STREAMING,
        path: "/events",
        channels: 0,
    },
    Scenario {
        name: "S4",
        clients: 19_000,
        events: 0,
        rate: 0,
        size: 64,
        configs: &["embedded", "embedded-axum", "hub"],
        path: "/events",
        channels: 0,
    },
    Scenario {
        name: "CPU",
        clients: 10,
        events: 200_000,
        rate: 0,
        size: 0,
        configs: &["embedded-axum", "embedded", "plain"],
        path: "/burst",
        channels: 0,
    },
    Scenario {
        name: "S5",
        clients: 10_000,
        events: 20_000,
        rate: 0,
        size: 64,
        configs: &["embedded", "redis", "hub"],
        path: "/users/{i}",
        channels: 10_000,
    },
    Scenario {
        name: "S6",
        clients: CHURN_STAYERS,
        events: CHURN_SECONDS * CHURN_EVENTS_PER_SECOND,
        rate: CHURN_EVENTS_PER_SECOND,
        size: 64,
        configs: &["embedded", "redis", "hub"],
        path: "/users/{i}",
        channels: CHURN_STAYERS as u64,
    },
];

/// S6: clients that stay, one per channel, and receive every event of their channel.
const CHURN_STAYERS: usize = 1_000;
/// S6: how long clients come and go, how many a second, on how many other channels.
const CHURN_SECONDS: u64 = 20;
/// S6: the round of churn before the memory at the start is read.
const CHURN_WARM_UP: u64 = 5;
const CHURN_PER_SECOND: u64 = 1_000;
const CHURN_CHANNELS: u64 = 1_000;
const CHURN_EVENTS_PER_SECOND: u64 = 1_000;

/// What S6 measures beside the usual figures.
#[derive(Debug, Default)]
struct Churn {
    streams: usize,
    failed: usize,
    /// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and PUNSUBSCRIBE Redis ran a second.
    subscriptions_per_second: f64,
    rss_start: u64,
    rss_end: u64,
}

/// The figures of one scenario and configuration.
#[derive(Debug, Default)]
struct Figures {
    scenario: &'static str,
    config: String,
    clients: usize,
    held: usize,
    rss_per_connection: u64,
    redis_connections: Option<usize>,
    events_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    cpu_seconds: f64,
    /// The load client's CPU time over the same span: near two seconds a second, it is
    /// the bottleneck, and the latencies are partly its own.
    client_cpu_seconds: f64,
    churn: Option<Churn>,
}

impl Figures {
    fn json(&self) -> String {
        serde_json::json!({
            "scenario": self.scenario, "config": self.config, "clients": self.clients,
            "held": self.held, "rss_per_connection_bytes": self.rss_per_connection,
            "redis_connections": self.redis_connections,
            "events_per_second": self.events_per_second.round(),
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
            "lost": self.lost, "duplicated": self.duplicated, "out_of_order": self.out_of_order,
            "cpu_seconds": self.cpu_seconds, "client_cpu_seconds": self.client_cpu_seconds,
            "churn": self.churn.as_ref().map(|churn| serde_json::json!({
                "streams": churn.streams, "failed": churn.failed,
                "subscriptions_per_second": churn.subscriptions_per_second,
                "rss_start_bytes": churn.rss_start, "rss_end_bytes": churn.rss_end,
            })),
        })
        .to_string()
    }

    fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.held == self.clients
    }
}

/// A server under test, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Run under `SSE_BENCH_WRAP`.
    wrapped: bool,
}

impl Server {
    fn spawn(config: &str, redis_url: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let exe = std::env::current_exe().expect("this program");
        let wrap = std::env::var("SSE_BENCH_WRAP").unwrap_or_default();
        let mut words: Vec<String> = wrap.split_whitespace().map(str::to_owned).collect();
        words.push(exe.display().to_string());
        let mut child = Command::new(&words[0])
            .args(&words[1..])
            .args(["server", config, &port.to_string(), redis_url])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        // A profiler wrapping the server may print first: wait for the server's line.
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        while let Some(Ok(line)) = lines.next() {
            if line == "ready" {
                break;
            }
        }
        // Keep reading, so that the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            wrapped: !wrap.trim().is_empty(),
        }
    }

    /// The resident memory of the server, from `/proc/<pid>/status`, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// User and system CPU time so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.child.id().to_string())
    }

    /// `GET path`, answered at once; a server that cannot answer (out of file
    /// descriptors, say) is given ten seconds, and its figures show what it delivered.
    fn get(&self, path: &str) {
        let patience = Duration::from_secs(10);
        let Ok(mut tcp) = TcpStream::connect_timeout(&self.addr, patience) else {
            return;
        };
        let _ = tcp.set_read_timeout(Some(patience));
        let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n");
        if tcp.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = tcp.read_to_end(&mut answer);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.wrapped {
            // The server is the wrapper's child: ask it to end, and give the wrapper (a
            // profiler) time to write what it saw.
            let pid = self.child.id().to_string();
            let _ = Command::new("pkill")
                .args(["-TERM", "-P", &pid, "-f", "sse-bench server"])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User and system CPU time of process `pid` (or `self`) so far, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

async fn measure(scenario: &'static Scenario, config: &str, redis: &RedisServer) -> Figures {
    let clients_before = redis.text(&["CLIENT", "LIST"]).lines().count();
    let server = Server::spawn(config, &redis.url());
    let rss_before = server.rss();
    // A burst starts as each client connects: its clock starts before they do.
    let bursts = scenario.path == "/burst";
    let (mut cpu_before, mut started) = (server.cpu_seconds(), Instant::now());
    let mut client_cpu_before = cpu_seconds("self");
    let path = match bursts {
        true => format!("{}?count={}", scenario.path, scenario.events),
        false => scenario.path.to_owned(),
    };
    let load = load::open(server.addr, &path, scenario.clients, 256).await;
    let churning = scenario.name == "S6";
    if churning {
        // A first round of churn, not measured: memory the allocator keeps for the
        // next round is not a leak. The second round shows whether anything grows.
        let channels = (scenario.channels, CHURN_CHANNELS);
        load::churn(
            server.addr,
            CHURN_PER_SECOND,
            CHURN_WARM_UP,
            channels.0,
            channels.1,
        )
        .await;
    }
    if !bursts {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let rss_idle = server.rss();
    if !bursts {
        (cpu_before, started) = (server.cpu_seconds(), Instant::now());
        client_cpu_before = cpu_seconds("self");
    }
    let subscriptions_before = subscription_commands(redis);
    if !bursts && scenario.events > 0 {
        server.get(&format!(
            "/publish?count={}&rate={}&size={}&channels={}",
            scenario.events, scenario.rate, scenario.size, scenario.channels
        ));
    }
    let churned = match churning {
        true => Some(
            load::churn(
                server.addr,
                CHURN_PER_SECOND,
                CHURN_SECONDS,
                scenario.channels,
                CHURN_CHANNELS,
            )
            .await,
        ),
        false => None,
    };
    // Each event of a user channel reaches its one client.
    let expected = match scenario.channels {
        0 => scenario.events * load.held as u64,
        _ => scenario.events,
    };
    let last = load.wait_for(expected, Duration::from_secs(5)).await;
    let churn = churned.map(|churned| {
        let seconds = started.elapsed().as_secs_f64();
        // Let the last leavers go before the memory is read again.
        std::thread::sleep(Duration::from_secs(1));
        Churn {
            streams: churned.streams,
            failed: churned.failed,
            subscriptions_per_second: (subscription_commands(redis) - subscriptions_before) as f64
                / seconds,
            rss_start: rss_idle,
            rss_end: server.rss(),
        }
    });
    let client_cpu_seconds = cpu_seconds("self") - client_cpu_before;
    let server_cpu_seconds = server.cpu_seconds() - cpu_before;
    // Every connection the server opened to Redis, publishing included.
    let redis_connections = match config {
        "embedded" | "embedded-axum" | "plain" => None,
        _ => Some(
            redis
                .text(&["CLIENT", "LIST"])
                .lines()
                .count()
                .saturating_sub(clients_before),
        ),
    };
    let elapsed = last
        .saturating_duration_since(started)
        .as_secs_f64()
        .max(1e-9);
    let held = load.held;
    let seen = load.finish().await;
    let mut latencies: Vec<u32> = seen
        .iter()
        .flat_map(|one| one.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let received: u64 = seen.iter().map(|one| one.received).sum();
    let path_has_latency = !bursts;
    Figures {
        scenario: scenario.name,
        config: config.to_owned(),
        clients: scenario.clients,
        held,
        rss_per_connection: rss_idle.saturating_sub(rss_before) / held.max(1) as u64,
        redis_connections,
        events_per_second: received as f64 / elapsed,
        p50_ms: if path_has_latency {
            percentile(&latencies, 0.50)
        } else {
            0.0
        },
        p99_ms: if path_has_latency {
            percentile(&latencies, 0.99)
        } else {
            0.0
        },
        max_ms: if path_has_latency {
            percentile(&latencies, 1.0)
        } else {
            0.0
        },
        lost: expected.saturating_sub(received),
        duplicated: seen.iter().map(|one| one.duplicated).sum(),
        out_of_order: seen.iter().map(|one| one.out_of_order).sum(),
        cpu_seconds: server_cpu_seconds,
        client_cpu_seconds,
        churn,
    }
}

/// How many SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and PUNSUBSCRIBE Redis has run.
fn subscription_commands(redis: &RedisServer) -> u64 {
    redis
        .text(&["INFO", "commandstats"])
        .lines()
        .filter(|line| {
            ["subscribe", "unsubscribe", "psubscribe", "punsubscribe"]
                .iter()
                .any(|command| line.starts_with(&format!("cmdstat_{command}:")))
        })
        .filter_map(|line| {
            line.split(['=', ','])
                .nth(1)
                .and_then(|calls| calls.parse::<u64>().ok())
        })
        .sum()
}

fn table(all: &[Figures]) {
    println!(
        "\n{:<6} {:<13} {:>7} {:>7} {:>10} {:>6} {:>11} {:>8} {:>8} {:>8} {:>5} {:>5} {:>5} {:>7} {:>7}",
        "scen",
        "config",
        "clients",
        "held",
        "B/conn",
        "redis",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lost",
        "dup",
        "ooo",
        "cpu s",
        "load s"
    );
    for f in all {
        let redis = f
            .redis_connections
            .map_or("-".to_owned(), |n| n.to_string());
        println!(
            "{:<6} {:<13} {:>7} {:>7} {:>10} {:>6} {:>11.0} {:>8.2} {:>8.2} {:>8.2} {:>5} {:>5} {:>5} {:>7.2} {:>7.2}",
            f.scenario, f.config, f.clients, f.held, f.rss_per_connection, redis, f.events_per_second,
            f.p50_ms, f.p99_ms, f.max_ms, f.lost, f.duplicated, f.out_of_order, f.cpu_seconds,
            f.client_cpu_seconds
        );
    }
    let churns: Vec<&Figures> = all.iter().filter(|f| f.churn.is_some()).collect();
    if !churns.is_empty() {
        println!(
            "\n{:<6} {:<13} {:>8} {:>7} {:>12} {:>12} {:>12} {:>9}",
            "scen", "config", "churned", "failed", "subs/s", "RSS start", "RSS end", "end/start"
        );
        for f in churns {
            let churn = f.churn.as_ref().expect("filtered");
            println!(
                "{:<6} {:<13} {:>8} {:>7} {:>12.1} {:>12} {:>12} {:>9.2}",
                f.scenario,
                f.config,
                churn.streams,
                churn.failed,
                churn.subscriptions_per_second,
                churn.rss_start,
                churn.rss_end,
                churn.rss_end as f64 / churn.rss_start.max(1) as f64
            );
        }
    }
    for f in all.iter().filter(|f| f.scenario == "S5") {
        if let Some(shared) = all
            .iter()
            .find(|s2| s2.scenario == "S2" && s2.config == f.config)
        {
            println!(
                "S5     {:<13} memory/conn against its own S2 (a shared channel): {:.2}",
                f.config,
                f.rss_per_connection as f64 / shared.rss_per_connection.max(1) as f64
            );
        }
    }
    println!("\nratios against the baseline measured in the same run:");
    for f in all {
        let baseline = match f.scenario {
            "CPU" => "plain",
            _ => "hub",
        };
        let Some(base) = all
            .iter()
            .find(|b| b.scenario == f.scenario && b.config == baseline)
        else {
            continue;
        };
        if f.config == baseline {
            continue;
        }
        let ratio = |ours: f64, theirs: f64| {
            if theirs > 0.0 {
                format!("{:.2}", ours / theirs)
            } else {
                "-".into()
            }
        };
        println!(
            "{:<6} {:<13} vs {:<5}: memory/conn {}  events/s {}  p99 {}  cpu {}",
            f.scenario,
            f.config,
            baseline,
            ratio(f.rss_per_connection as f64, base.rss_per_connection as f64),
            ratio(f.events_per_second, base.events_per_second),
            ratio(f.p99_ms, base.p99_ms),
            ratio(f.cpu_seconds, base.cpu_seconds),
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        return server::run(&args[1..]).await;
    }
    let wanted = args
        .iter()
        .position(|arg| arg == "--scenario")
        .and_then(|at| args.get(at + 1))
        .map_or("smoke", String::as_str);
    let scenarios: Vec<&'static Scenario> = SCENARIOS
        .iter()
        .filter(|s| {
            if wanted == "all" {
                s.name != "smoke"
            } else {
                s.name.eq_ignore_ascii_case(wanted)
            }
        })
        .collect();
    if scenarios.is_empty() {
        eprintln!("unknown scenario {wanted}: smoke, S1, S2, S3, S4, CPU, S5, S6 or all");
        std::process::exit(2);
    }
    // `--config name` measures one configuration (and its baseline, if the scenario has it).
    let only = args
        .iter()
        .position(|arg| arg == "--config")
        .and_then(|at| args.get(at + 1));
    let redis = RedisServer::start();
    let mut all = Vec::new();
    for scenario in scenarios {
        for config in scenario.configs {
            if only.is_some_and(|only| only != config) {
                continue;
            }
            let figures = measure(scenario, config, &redis).await;
            println!("{}", figures.json());
            all.push(figures);
            // Let sockets of the last run leave TIME_WAIT-heavy states behind.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    table(&all);
    let dirty: Vec<&Figures> = all
        .iter()
        .filter(|f| f.scenario == "smoke" && !f.clean())
        .collect();
    if !dirty.is_empty() {
        eprintln!("the smoke run lost, repeated or reordered events: {dirty:?}");
        std::process::exit(1);
    }
}
