//! What a run found: the figures of each scenario and configuration, as JSON lines and
//! as the table and ratios BENCHMARKS.md quotes.

/// What S6 measures beside the usual figures.
#[derive(Debug, Default)]
pub(crate) struct Churn {
    pub(crate) streams: usize,
    pub(crate) failed: usize,
    /// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and PUNSUBSCRIBE Redis ran a second.
    pub(crate) subscriptions_per_second: f64,
    /// Scripts Redis ran a second beside one per event sent: presence reports.
    pub(crate) other_scripts_per_second: f64,
    pub(crate) rss_start: u64,
    pub(crate) rss_end: u64,
}

/// The figures of one scenario and configuration.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub(crate) scenario: &'static str,
    pub(crate) config: String,
    pub(crate) clients: usize,
    pub(crate) held: usize,
    pub(crate) rss_per_connection: u64,
    pub(crate) redis_connections: Option<usize>,
    pub(crate) events_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) out_of_order: u64,
    pub(crate) cpu_seconds: f64,
    /// The load client's CPU time over the same span: near two seconds a second, it is
    /// the bottleneck, and the latencies are partly its own.
    pub(crate) client_cpu_seconds: f64,
    pub(crate) churn: Option<Churn>,
}

impl Figures {
    pub(crate) fn json(&self) -> String {
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
                "other_scripts_per_second": churn.other_scripts_per_second,
                "rss_start_bytes": churn.rss_start, "rss_end_bytes": churn.rss_end,
            })),
        })
        .to_string()
    }

    pub(crate) fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.held == self.clients
    }
}

pub(crate) fn table(all: &[Figures]) {
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
            "\n{:<6} {:<13} {:>8} {:>7} {:>12} {:>10} {:>12} {:>12} {:>9}",
            "scen",
            "config",
            "churned",
            "failed",
            "subs/s",
            "scripts/s",
            "RSS start",
            "RSS end",
            "end/start"
        );
        for f in churns {
            let churn = f.churn.as_ref().expect("filtered");
            println!(
                "{:<6} {:<13} {:>8} {:>7} {:>12.1} {:>10.1} {:>12} {:>12} {:>9.2}",
                f.scenario,
                f.config,
                churn.streams,
                churn.failed,
                churn.subscriptions_per_second,
                churn.other_scripts_per_second,
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
    // The stream form against the buffer form, both under `sse_runtime::serve`.
    let cpu_of = |config: &str| {
        all.iter()
            .find(|f| f.scenario == "CPU" && f.config == config)
            .map(|f| f.cpu_seconds)
    };
    if let (Some(stream), Some(buffer)) = (cpu_of("embedded-stream"), cpu_of("embedded")) {
        println!(
            "CPU    a stream view against the &mut Sse view of the same events: cpu {:.2}",
            stream / buffer.max(1e-9)
        );
    }
    // Issues 12 and 16: each scenario against its twin, same configuration.
    for (scenario, twin, what) in [
        ("S1F", "S1", "S1 on three channels a client against one"),
        (
            "IDLE10",
            "IDLE1",
            "an idle stream on ten channels against one",
        ),
        ("S6P", "S6", "S6 with presence on against off"),
        (
            "SLOW",
            "SLOW0",
            "readers beside as many that stopped reading, against alone",
        ),
    ] {
        for f in all.iter().filter(|f| f.scenario == scenario) {
            let Some(base) = all
                .iter()
                .find(|b| b.scenario == twin && b.config == f.config)
            else {
                continue;
            };
            println!(
                "{scenario:<6} {:<13} {what}: memory/conn {:.2}  events/s {:.2}  p99 {:.2}  cpu {:.2}",
                f.config,
                f.rss_per_connection as f64 / base.rss_per_connection.max(1) as f64,
                f.events_per_second / base.events_per_second.max(1e-9),
                f.p99_ms / base.p99_ms.max(1e-9),
                f.cpu_seconds / base.cpu_seconds.max(1e-9),
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
