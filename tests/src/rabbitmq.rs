//! A virtual host of the test's own on the machine's RabbitMQ (127.0.0.1:5672,
//! guest/guest), made with `rabbitmqctl` and deleted, with everything in it, when the
//! test ends: runs do not see each other's streams.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the machine's RabbitMQ listens.
pub const ADDR: &str = "127.0.0.1:5672";

/// A virtual host; deleted when dropped.
pub struct RabbitVhost {
    name: String,
}

static VHOSTS: AtomicUsize = AtomicUsize::new(0);

/// Runs `rabbitmqctl` with `args`, failing the test with what it said if it fails.
fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl is installed (`.ci/run` installs RabbitMQ)");
    assert!(
        output.status.success(),
        "rabbitmqctl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

impl RabbitVhost {
    /// A new virtual host that the `guest` user may use.
    pub fn create() -> RabbitVhost {
        let vhost = RabbitVhost::not_made();
        vhost.make();
        vhost
    }

    /// A name of the test's own for a virtual host that RabbitMQ does not have yet.
    pub fn not_made() -> RabbitVhost {
        let name = format!(
            "sse-test-{}-{}",
            std::process::id(),
            VHOSTS.fetch_add(1, Ordering::Relaxed)
        );
        RabbitVhost { name }
    }

    /// Makes this virtual host, for the `guest` user.
    pub fn make(&self) {
        rabbitmqctl(&["add_vhost", &self.name]);
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.name,
            "guest",
            ".*",
            ".*",
            ".*",
        ]);
    }

    /// How many connections RabbitMQ has to this virtual host.
    pub fn connections(&self) -> usize {
        let output = Command::new("rabbitmqctl")
            .args(["list_connections", "-q", "--no-table-headers", "vhost"])
            .output()
            .expect("rabbitmqctl runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.trim() == self.name)
            .count()
    }

    /// The queues of this virtual host: their name, type and number of consumers.
    pub fn queues(&self) -> Vec<(String, String, usize)> {
        let output = Command::new("rabbitmqctl")
            .args(["list_queues", "-q", "--no-table-headers", "-p", &self.name])
            .args(["name", "type", "consumers"])
            .output()
            .expect("rabbitmqctl runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let name = fields.next()?.to_owned();
                let kind = fields.next()?.to_owned();
                let consumers = fields.next()?.parse().ok()?;
                Some((name, kind, consumers))
            })
            .collect()
    }

    /// The arguments `queue` was declared with, as `rabbitmqctl` prints them.
    pub fn queue_arguments(&self, queue: &str) -> String {
        let output = Command::new("rabbitmqctl")
            .args(["list_queues", "-q", "--no-table-headers", "-p", &self.name])
            .args(["name", "arguments"])
            .output()
            .expect("rabbitmqctl runs");
        let listed = String::from_utf8_lossy(&output.stdout);
        let line = listed
            .lines()
            .find(|line| line.split_whitespace().next() == Some(queue));
        line.unwrap_or_default().to_owned()
    }

    /// Closes every connection to this virtual host from RabbitMQ's side, as a broker
    /// restarting would.
    pub fn close_connections(&self) {
        rabbitmqctl(&[
            "close_all_connections",
            "--vhost",
            &self.name,
            "closed by the test",
        ]);
    }

    /// `amqp://guest:guest@127.0.0.1:5672/<vhost>`.
    pub fn url(&self) -> String {
        self.url_via(ADDR.parse().unwrap())
    }

    /// The URL of this virtual host through `addr` (a relay to RabbitMQ).
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        format!("amqp://guest:guest@{addr}/{}", self.name)
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .output();
    }
}
