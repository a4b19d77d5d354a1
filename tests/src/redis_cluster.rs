//! A real Redis Cluster of the test's own: six `redis-server --cluster-enabled yes` on
//! free loopback ports, three masters and three replicas, joined by `redis-cli --cluster
//! create`; a test can kill the master of a channel's slot and wait for its replica to
//! take over.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::RedisServer;

/// How long a node may be silent before its replica takes over, in milliseconds.
const NODE_TIMEOUT_MS: u64 = 1000;

/// A running cluster; its nodes are killed and their directory removed when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts six nodes, makes them a cluster of three masters with a replica each, and
    /// waits until every node sees every slot served.
    pub fn start() -> RedisCluster {
        let dir = std::env::temp_dir().join(format!(
            "sse-cluster-{}-{}",
            std::process::id(),
            cluster_port()
        ));
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = cluster_port();
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("a directory for the node");
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                &NODE_TIMEOUT_MS.to_string(),
                "--dir",
                node_dir.to_str().expect("a UTF-8 temporary directory"),
                // A replica's first sync starts at once, not after Redis's 5 s wait for
                // other replicas to share it.
                "--repl-diskless-sync-delay",
                "0",
            ];
            nodes.push(RedisServer::spawn_on(port, args.map(String::from).to_vec()));
        }
        let cluster = RedisCluster { nodes, dir };
        for node in &cluster.nodes {
            node.wait_until_up();
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli is installed (`.ci/run` installs it)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.wait_until_ok();
        cluster.wait_until_replicated();
        cluster
    }

    /// The seed nodes as a hub takes them: `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port()))
            .collect()
    }

    /// The nodes, masters and replicas, in the order they were started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// A node that runs, to ask about the cluster.
    fn live_node(&self) -> &RedisServer {
        self.nodes
            .iter()
            .find(|node| node.query(&["PING"]).is_ok())
            .expect("a node of the cluster runs")
    }

    /// The index of the node that is the master of `channel`'s slot now.
    pub fn master_of(&self, channel: &str) -> usize {
        self.try_master_of(channel)
            .unwrap_or_else(|| panic!("no master serves the slot of {channel}"))
    }

    /// The index of the node that is the master of `channel`'s slot now, if one that is
    /// not failing is.
    pub fn try_master_of(&self, channel: &str) -> Option<usize> {
        let node = self.live_node();
        let slot: u16 = match node.query(&["CLUSTER", "KEYSLOT", channel]) {
            Ok(redis::Value::Int(slot)) => slot as u16,
            other => panic!("CLUSTER KEYSLOT: {other:?}"),
        };
        let port = node
            .text(&["CLUSTER", "NODES"])
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find(|line| serves(line, slot))
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|address| address.split(['@', ':']).nth(1))
            .and_then(|port| port.parse::<u16>().ok())?;
        self.nodes.iter().position(|node| node.port() == port)
    }

    /// Kills node `index` with SIGKILL, as a crash would.
    pub fn kill(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Starts node `index` again, with the cluster configuration it had: a master that
    /// was replaced comes back as a replica of the one that replaced it.
    pub fn restart(&mut self, index: usize) {
        self.nodes[index].restart();
        self.wait_until_ok();
        self.wait_until_replicated();
    }

    /// Waits until every master has a replica in step with it (`replicas_in_step`), as
    /// a `WAIT` counts it.
    pub fn wait_until_replicated(&self) {
        // Generous: on a loaded machine a sync that a node's timeout interrupted starts over.
        let deadline = Instant::now() + Duration::from_secs(60);
        let replicated = |node: &RedisServer| {
            let info = node.text(&["INFO", "replication"]);
            info.contains("role:master") && node.replicas_in_step() == 1
                || info.contains("role:slave") && info.contains("master_link_status:up")
        };
        while !self.nodes.iter().all(replicated) {
            assert!(Instant::now() < deadline, "the replicas did not catch up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every node that runs says the cluster is `ok`: every slot served,
    /// after a failover too.
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.is_ok() {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether every node that runs says the cluster is `ok`.
    pub fn is_ok(&self) -> bool {
        self.nodes
            .iter()
            .filter(|node| node.query(&["PING"]).is_ok())
            .all(|node| node.text(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
    }
}

/// Whether a `CLUSTER NODES` line serves `slot`.
fn serves(line: &str, slot: u16) -> bool {
    line.split(' ').skip(8).any(|range| {
        let mut bounds = range.split('-').map(|bound| bound.parse::<u16>());
        match (bounds.next(), bounds.next()) {
            (Some(Ok(first)), Some(Ok(last))) => (first..=last).contains(&slot),
            (Some(Ok(only)), None) => only == slot,
            _ => false,
        }
    })
}

/// A free port of 127.0.0.1 whose cluster bus port, 10,000 above, is free too.
fn cluster_port() -> u16 {
    crate::redis_server::free_ports(&[0, 10_000])
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
