//! The server under test, a child process of the benchmark, so that its memory and CPU
//! time are its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under test, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// Run under `SSE_BENCH_WRAP`.
    wrapped: bool,
}

impl Server {
    pub(crate) fn spawn(config: &str, redis_url: &str) -> Server {
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
    pub(crate) fn rss(&self) -> u64 {
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
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.child.id().to_string())
    }

    /// `GET path`, answered at once; a server that cannot answer (out of file
    /// descriptors, say) is given ten seconds, and its figures show what it delivered.
    pub(crate) fn get(&self, path: &str) {
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
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
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
