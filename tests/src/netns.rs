//! A network namespace of the test's own, joined to the host by veth pairs, for tests of
//! a partition between a server and its broker: a link taken down drops every packet,
//! both ways, as a cut cable would, and closes no connection. Needs root (`ip netns`).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

/// A namespace; deleted, with its links, when dropped.
pub struct Namespace {
    name: String,
    /// A number of this namespace, in its links' names and addresses.
    number: u8,
}

/// A veth pair between the host and a namespace, with an address at each end.
pub struct Link {
    host_interface: String,
    /// The host's end.
    pub host: Ipv4Addr,
    /// The namespace's end.
    pub inside: Ipv4Addr,
}

static NAMESPACES: AtomicU8 = AtomicU8::new(0);

/// Runs `ip` with `args`, failing the test with what it said if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` is installed (iproute2)");
    assert!(
        output.status.success(),
        "ip {}: {} (tests of partitions run as root)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

impl Namespace {
    /// A new namespace whose loopback is up.
    pub fn create() -> Namespace {
        let number = NAMESPACES.fetch_add(1, Ordering::Relaxed);
        let name = format!("sse-{}-{number}", std::process::id());
        ip(&["netns", "add", &name]);
        let namespace = Namespace { name, number };
        ip(&["-n", &namespace.name, "link", "set", "lo", "up"]);
        namespace
    }

    /// A new link (`index` below 64) between the host and the namespace, up.
    pub fn link(&self, index: u8) -> Link {
        // 10.213.<process and namespace>.<4 × index + 1 or 2>/30: one subnet a link.
        let subnet = ((std::process::id() as u8) ^ self.number.wrapping_mul(31)) | 1;
        let host = Ipv4Addr::new(10, 213, subnet, 4 * index + 1);
        let inside = Ipv4Addr::new(10, 213, subnet, 4 * index + 2);
        let tag = format!("{}{}{index}", std::process::id() % 100_000, self.number);
        let (host_interface, inside_interface) = (format!("sh{tag}"), format!("sn{tag}"));
        ip(&[
            "link",
            "add",
            &host_interface,
            "type",
            "veth",
            "peer",
            "name",
            &inside_interface,
            "netns",
            &self.name,
        ]);
        ip(&["addr", "add", &format!("{host}/30"), "dev", &host_interface]);
        ip(&["link", "set", &host_interface, "up"]);
        let n = ["-n", self.name.as_str()];
        ip(&[
            &n[..],
            &[
                "addr",
                "add",
                &format!("{inside}/30"),
                "dev",
                &inside_interface,
            ],
        ]
        .concat());
        ip(&[&n[..], &["link", "set", &inside_interface, "up"]].concat());
        Link {
            host_interface,
            host,
            inside,
        }
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Link {
    /// Takes the link down: nothing passes, and nothing is told.
    pub fn down(&self) {
        ip(&["link", "set", &self.host_interface, "down"]);
    }

    /// Brings the link back up.
    pub fn up(&self) {
        ip(&["link", "set", &self.host_interface, "up"]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Its links go with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
