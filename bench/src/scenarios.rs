//! The scenarios the benchmark runs, each a shape of load, and the configurations it
//! runs them on.

/// One scenario: how many clients, how many events, how fast, which configurations.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) clients: usize,
    pub(crate) events: u64,
    /// Events a second; 0 for as fast as the server sends them.
    pub(crate) rate: u64,
    pub(crate) size: u64,
    pub(crate) configs: &'static [&'static str],
    /// The route the clients read: `/events` (a channel), `/users/{i}` (a channel per
    /// client) or `/burst` (made by the handler).
    pub(crate) path: &'static str,
    /// 0: every event goes to channel `bench`; else each goes to one of this many user
    /// channels, and so to one client.
    pub(crate) channels: u64,
    /// The route clients come and go on while the events are sent (`{i}` a channel's
    /// number), or "" for a scenario without churn.
    pub(crate) churn: &'static str,
    /// Clients beside `clients` that open the stream and never read it.
    pub(crate) stalled: usize,
}

const STREAMING: &[&str] = &["embedded", "redis", "hub", "naive"];

pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "smoke",
        clients: 50,
        events: 100,
        rate: 1000,
        size: 64,
        configs: STREAMING,
        path: "/events",
        channels: 0,
        churn: "",
        stalled: 0,
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
        churn: "",
        stalled: 0,
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
        churn: "",
        stalled: 0,
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
        churn: "",
        stalled: 0,
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
        churn: "",
        stalled: 0,
    },
    Scenario {
        name: "CPU",
        clients: 10,
        events: 200_000,
        rate: 0,
        size: 0,
        configs: &["embedded-axum", "embedded", "embedded-stream", "plain"],
        path: "/burst",
        channels: 0,
        churn: "",
        stalled: 0,
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
        churn: "",
        stalled: 0,
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
        churn: "/users/{i}",
        stalled: 0,
    },
    // Issue 12's figures (`--scenario feeds`): S1 with every client on three channels
    // of a feed (the shared one and two of its own), beside S1; an idle stream on one
    // channel of its own and on ten; S6 with presence on, beside S6.
    Scenario {
        name: "S1F",
        clients: 1_000,
        events: 200,
        rate: 100,
        size: 64,
        configs: &["embedded", "redis"],
        path: "/feeds/{i}",
        channels: 0,
        churn: "",
        stalled: 0,
    },
    Scenario {
        name: "IDLE1",
        clients: 2_000,
        events: 0,
        rate: 0,
        size: 64,
        configs: &["embedded", "redis"],
        path: "/users/{i}",
        channels: 0,
        churn: "",
        stalled: 0,
    },
    Scenario {
        name: "IDLE10",
        clients: 2_000,
        events: 0,
        rate: 0,
        size: 64,
        configs: &["embedded", "redis"],
        path: "/ten/{i}",
        channels: 0,
        churn: "",
        stalled: 0,
    },
    Scenario {
        name: "S6P",
        clients: CHURN_STAYERS,
        events: CHURN_SECONDS * CHURN_EVENTS_PER_SECOND,
        rate: CHURN_EVENTS_PER_SECOND,
        size: 64,
        configs: &["embedded", "redis"],
        path: "/users/{i}",
        channels: CHURN_STAYERS as u64,
        churn: "/present/{i}",
        stalled: 0,
    },
    // Issue 16's figure (`--scenario slow`): readers of a busy channel beside as many
    // clients that stopped reading, against the same readers alone.
    SLOW0,
    Scenario {
        name: "SLOW",
        stalled: 10,
        ..SLOW0
    },
];

/// SLOW's baseline: events of 8 KB, so that clients that stop reading fall more than
/// their queue (1,024 events) behind, past what their sockets hold, and are cut off;
/// few readers, so that parsing 20 MB/s does not saturate the load client.
const SLOW0: Scenario = Scenario {
    name: "SLOW0",
    clients: 10,
    events: 2_500,
    rate: 250,
    size: 8_192,
    configs: &["embedded", "redis"],
    path: "/events",
    channels: 0,
    churn: "",
    stalled: 0,
};

/// The scenarios of `--scenario backends`, each on one Redis, on a Redis Cluster (three
/// masters, three replicas) and on RabbitMQ in the same run.
pub(crate) const BACKENDS: &[&str] = &["S1", "S2"];
pub(crate) const BACKEND_CONFIGS: &[&str] = &["redis", "cluster", "amqp"];

/// The scenarios of `--scenario slow`: with clients that stopped reading, and without.
pub(crate) const SLOW: &[&str] = &["SLOW0", "SLOW"];

/// The scenarios of `--scenario feeds`, each beside its baseline.
pub(crate) const FEEDS: &[&str] = &["S1", "S1F", "IDLE1", "IDLE10", "S6", "S6P"];

/// S6: clients that stay, one per channel, and receive every event of their channel.
pub(crate) const CHURN_STAYERS: usize = 1_000;
/// S6: how long clients come and go, how many a second, on how many other channels.
pub(crate) const CHURN_SECONDS: u64 = 20;
/// S6: the round of churn before the memory at the start is read.
pub(crate) const CHURN_WARM_UP: u64 = 5;
pub(crate) const CHURN_PER_SECOND: u64 = 1_000;
pub(crate) const CHURN_CHANNELS: u64 = 1_000;
pub(crate) const CHURN_EVENTS_PER_SECOND: u64 = 1_000;
