//! The benchmark: this crate against hand-written axum SSE servers, measured in one run
//! so that every figure can be read as a ratio on the same machine at the same moment.
//!
//! ```text
//! cargo run --release -p sse-bench -- --scenario all
//! cargo run -p sse-bench -- --scenario smoke      # seconds; what CI runs
//! cargo run --release -p sse-bench -- --scenario typed   # a typed send against send_json
//! cargo run --release -p sse-bench -- --scenario tls     # idle streams over TLS and HTTP/2
//! cargo run --release -p sse-bench -- --scenario backends  # S1, S2: Redis, a cluster, RabbitMQ
//! ```
//!
//! Each server runs as a child process (`sse-bench server <config> <port>`), so its
//! memory and CPU time are its own. See BENCHMARKS.md for the scenarios and a run.

mod child;
mod load;
mod report;
mod scenarios;
mod server;
mod tls;
mod typed;

use std::time::{Duration, Instant};

use tests::rabbitmq::RabbitVhost;
use tests::redis_cluster::RedisCluster;
use tests::redis_server::RedisServer;

use child::{cpu_seconds, Server};
use report::{table, Churn, Figures};
use scenarios::*;

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

/// The brokers a run measures against: one Redis, and a cluster and RabbitMQ (a virtual
/// host of the run's own) if a scenario asks.
struct Brokers {
    redis: RedisServer,
    cluster: Option<RedisCluster>,
    amqp: Option<RabbitVhost>,
}

impl Brokers {
    /// The broker URL the server of `config` is given.
    fn url(&self, config: &str) -> String {
        match (config, &self.cluster, &self.amqp) {
            ("cluster", Some(cluster), _) => cluster.urls().join(","),
            ("amqp", _, Some(amqp)) => amqp.url(),
            _ => self.redis.url(),
        }
    }

    /// The connections of clients the broker of `config` has now: on every node of a
    /// cluster, apart from replication links; to the run's virtual host of RabbitMQ.
    fn connections(&self, config: &str) -> usize {
        match (config, &self.cluster, &self.amqp) {
            ("cluster", Some(cluster), _) => {
                cluster.nodes().iter().map(RedisServer::connections).sum()
            }
            ("amqp", _, Some(amqp)) => amqp.connections(),
            _ => self.redis.connections(),
        }
    }
}

async fn measure(scenario: &'static Scenario, config: &str, brokers: &Brokers) -> Figures {
    let redis = &brokers.redis;
    let clients_before = brokers.connections(config);
    let server = Server::spawn(config, &brokers.url(config));
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
    let stalled = load::stall(server.addr, &path, scenario.stalled).await;
    let churning = !scenario.churn.is_empty();
    if churning {
        // A first round of churn, not measured: memory the allocator keeps for the
        // next round is not a leak. The second round shows whether anything grows.
        let channels = (scenario.channels, CHURN_CHANNELS);
        load::churn(
            server.addr,
            scenario.churn,
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
    let scripts_before = scripts_run(redis);
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
                scenario.churn,
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
            // Each event sent is one script; the rest are presence reports.
            other_scripts_per_second: (scripts_run(redis) - scripts_before)
                .saturating_sub(scenario.events) as f64
                / seconds,
            rss_start: rss_idle,
            rss_end: server.rss(),
        }
    });
    let client_cpu_seconds = cpu_seconds("self") - client_cpu_before;
    let server_cpu_seconds = server.cpu_seconds() - cpu_before;
    // Every connection the server opened to Redis, publishing included.
    let redis_connections = match config {
        "embedded" | "embedded-stream" | "embedded-axum" | "plain" => None,
        _ => Some(brokers.connections(config).saturating_sub(clients_before)),
    };
    let elapsed = last
        .saturating_duration_since(started)
        .as_secs_f64()
        .max(1e-9);
    let held = load.held;
    let seen = load.finish().await;
    drop(stalled);
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

/// How many scripts (`EVAL`, `EVALSHA`) Redis has run.
fn scripts_run(redis: &RedisServer) -> u64 {
    redis
        .text(&["INFO", "commandstats"])
        .lines()
        .filter(|line| line.starts_with("cmdstat_eval:") || line.starts_with("cmdstat_evalsha:"))
        .filter_map(|line| {
            line.split(['=', ','])
                .nth(1)
                .and_then(|calls| calls.parse::<u64>().ok())
        })
        .sum()
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
    if wanted.eq_ignore_ascii_case("typed") {
        return typed::run().await;
    }
    if wanted.eq_ignore_ascii_case("tls") {
        return tls::run().await;
    }
    let scenarios: Vec<&'static Scenario> = SCENARIOS
        .iter()
        .filter(|s| {
            if wanted == "all" {
                s.name != "smoke"
            } else if wanted.eq_ignore_ascii_case("feeds") {
                FEEDS.contains(&s.name)
            } else if wanted.eq_ignore_ascii_case("backends") {
                BACKENDS.contains(&s.name)
            } else if wanted.eq_ignore_ascii_case("slow") {
                SLOW.contains(&s.name)
            } else {
                s.name.eq_ignore_ascii_case(wanted)
            }
        })
        .collect();
    if scenarios.is_empty() {
        eprintln!(
            "unknown scenario {wanted}: smoke, S1, S2, S3, S4, CPU, S5, S6, S1F, IDLE1, IDLE10, S6P, feeds, SLOW0, SLOW, slow, backends, all, typed, or tls"
        );
        std::process::exit(2);
    }
    // `--config name` measures one configuration (and its baseline, if the scenario has it).
    let only = args
        .iter()
        .position(|arg| arg == "--config")
        .and_then(|at| args.get(at + 1));
    let backends = wanted.eq_ignore_ascii_case("backends");
    let brokers = Brokers {
        redis: RedisServer::start(),
        cluster: backends.then(RedisCluster::start),
        amqp: backends.then(RabbitVhost::create),
    };
    let mut all = Vec::new();
    for scenario in scenarios {
        let configs = match backends {
            true => BACKEND_CONFIGS,
            false => scenario.configs,
        };
        for config in configs {
            if only.is_some_and(|only| only != config) {
                continue;
            }
            let figures = measure(scenario, config, &brokers).await;
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
