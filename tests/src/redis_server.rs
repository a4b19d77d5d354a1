//! A real `redis-server` of the test's own, on a free loopback port, that a test can kill
//! and start again on the same port.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A `redis-server` process; killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// Arguments beyond the port and the defaults below.
    args: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free port of 127.0.0.1 and waits until it answers.
    pub fn start() -> RedisServer {
        RedisServer::start_with(Vec::new())
    }

    /// Starts a server with more arguments (which it keeps when restarted).
    pub fn start_with(args: Vec<String>) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            args,
        };
        server.restart();
        server
    }

    /// Starts a server on `port` with more arguments, without waiting for it.
    pub(crate) fn spawn_on(port: u16, args: Vec<String>) -> RedisServer {
        let mut server = RedisServer {
            port,
            child: None,
            args,
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGSTOP: it keeps its connections and accepts new ones
    /// (the kernel does), but answers nothing, as a hung server.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server runs");
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.spawn();
        self.wait_until_up();
    }

    /// Waits until the server answers.
    pub(crate) fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.query(&["PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (`.ci/run` installs it)");
        self.child = Some(child);
    }

    /// Runs one command and returns its reply.
    pub fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(1))?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut connection)
    }

    /// Runs one command whose reply is text.
    pub fn text(&self, args: &[&str]) -> String {
        match self.query(args).expect("the command runs") {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            redis::Value::VerbatimString { text, .. } => text,
            redis::Value::SimpleString(text) => text,
            other => panic!("not text: {other:?}"),
        }
    }

    /// How many connections the server has accepted since it started, this reading's own
    /// included: between two readings, the connections others opened, plus one (the
    /// later reading). An oracle of its own: Redis counts them, not the code under test.
    pub fn connections_received(&self) -> u64 {
        self.text(&["INFO", "stats"])
            .lines()
            .find_map(|line| line.strip_prefix("total_connections_received:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("INFO stats has total_connections_received")
    }

    /// How many connections of clients the server has, apart from the one asking (and
    /// from its replicas' replication links, flagged `S`).
    pub fn connections(&self) -> usize {
        let list = self.text(&["CLIENT", "LIST"]);
        list.lines()
            .filter(|line| !line.contains(" flags=S "))
            .count()
            - 1
    }

    /// How many connections of the server are subscribed to something, a channel or a
    /// shard channel.
    pub fn subscriber_connections(&self) -> usize {
        self.text(&["CLIENT", "LIST"])
            .lines()
            .filter(|line| {
                line.split(' ').any(|field| {
                    let count = field
                        .strip_prefix("sub=")
                        .or_else(|| field.strip_prefix("ssub="));
                    count.is_some_and(|count| count != "0")
                })
            })
            .count()
    }

    /// How many channels and shard channels the server's connections subscribe to
    /// (`PUBSUB CHANNELS` and `PUBSUB SHARDCHANNELS`), as Redis counts them.
    pub fn subscribed_channels(&self) -> usize {
        ["CHANNELS", "SHARDCHANNELS"]
            .into_iter()
            .map(|list| match self.query(&["PUBSUB", list]) {
                Ok(redis::Value::Array(names)) => names.len(),
                other => panic!("PUBSUB {list}: {other:?}"),
            })
            .sum()
    }

    /// How many of this master's replicas are in step with it, as its `INFO replication`
    /// says: online, and having acknowledged everything it has written (a replica just
    /// synced is online before its first acknowledgement, and a `WAIT` counts only what
    /// was acknowledged).
    pub fn replicas_in_step(&self) -> usize {
        let info = self.text(&["INFO", "replication"]);
        let field = |line: &str, name: &str| {
            line.split([':', ','])
                .find_map(|part| part.strip_prefix(name).map(str::to_owned))
        };
        let Some(written) = info
            .lines()
            .find_map(|line| line.strip_prefix("master_repl_offset:"))
        else {
            return 0;
        };
        info.lines()
            .filter(|line| line.starts_with("slave") && line.contains("state=online"))
            .filter(|line| field(line, "offset=").as_deref() == Some(written.trim()))
            .count()
    }

    /// `PUBSUB NUMSUB channel`: how many connections subscribe to `channel`.
    pub fn numsub(&self, channel: &str) -> i64 {
        match self
            .query(&["PUBSUB", "NUMSUB", channel])
            .expect("PUBSUB NUMSUB")
        {
            redis::Value::Array(items) => match items.get(1) {
                Some(redis::Value::Int(count)) => *count,
                other => panic!("NUMSUB count: {other:?}"),
            },
            other => panic!("NUMSUB reply: {other:?}"),
        }
    }
}

/// A free port of 127.0.0.1 for a server.
pub(crate) fn free_port() -> u16 {
    free_ports(&[0])
}

/// A port of 127.0.0.1 such that it and the ports `offsets` above it are free, and none
/// of them was handed out before in this process: tests running side by side never get
/// one port twice (a second `redis-server` on it fails to start, and the first answers
/// in its place). They are taken below the range the kernel gives outgoing connections
/// (32768 on, by default), so that no client takes one between a server's start and its
/// restart; each process starts at a place of its own in the range.
pub(crate) fn free_ports(offsets: &[u16]) -> u16 {
    const FIRST: u16 = 10_000;
    const END: u16 = 32_768;
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let highest = offsets.iter().copied().max().unwrap_or(0);
    let span = u32::from(END - highest - FIRST);
    let start = std::process::id().wrapping_mul(7_919) % span;
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let port = (0..span)
        .map(|step| FIRST + ((start + step) % span) as u16)
        .find(|&port| {
            offsets.iter().all(|offset| {
                let port = port + offset;
                !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok()
            })
        })
        .expect("a free port below 32768");
    handed_out.extend(offsets.iter().map(|offset| port + offset));
    port
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
