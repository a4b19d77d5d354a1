//! The example programs, run as a user runs them: their binary, an address of their own
//! in `SSE_ADDR`, killed when the test ends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running example; killed when dropped.
pub struct Example {
    /// The process.
    pub child: Child,
    /// The address it listens on, `127.0.0.1:<port>` unless the test chose another.
    pub addr: String,
}

/// The binary of example `name`, which `cargo test --workspace` builds beside the tests.
pub fn binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

impl Example {
    /// Starts example `name` on the embedded hub, on a free port, and waits until it
    /// listens.
    pub fn start(name: &str) -> Example {
        Example::start_with(name, &[])
    }

    /// Starts example `name` with `env` set (`SSE_REDIS_URL` unset unless given), on a
    /// free port, and waits until it listens.
    pub fn start_with(name: &str, env: &[(&str, &str)]) -> Example {
        Example::start_writing(name, env, Stdio::null())
    }

    /// Starts example `name` with `env` set, as [`start_with`](Self::start_with) does,
    /// its standard output written to `stdout` (where its log lines go).
    pub fn start_writing(name: &str, env: &[(&str, &str)], stdout: impl Into<Stdio>) -> Example {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        Example::spawn(Command::new(binary(name)), name, addr, env, stdout.into())
    }

    /// Starts example `name` as `command` runs it (its binary, [`binary`], last), on
    /// `addr`, with `env` set, and waits until it listens: for an example run inside a
    /// network namespace.
    pub fn start_as(command: Command, name: &str, addr: String, env: &[(&str, &str)]) -> Example {
        Example::spawn(command, name, addr, env, Stdio::null())
    }

    fn spawn(
        mut command: Command,
        name: &str,
        addr: String,
        env: &[(&str, &str)],
        stdout: Stdio,
    ) -> Example {
        let child = command
            .env_remove("SSE_REDIS_URL")
            .env("SSE_ADDR", &addr)
            .envs(env.iter().copied())
            .stdout(stdout)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("example `{name}` runs (`cargo test --workspace` builds it): {error}")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "example `{name}` listens");
            std::thread::sleep(Duration::from_millis(20));
        }
        Example { child, addr }
    }

    /// Runs example `name` with `env` until it exits, for at most ten seconds: for
    /// programs that must refuse to start.
    pub fn run_to_exit(name: &str, env: &[(&str, &str)]) -> std::process::Output {
        let mut child = Command::new(binary(name))
            .env_remove("SSE_REDIS_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("its status").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("example `{name}` did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("its output")
    }

    /// Sends the process `signal` (`TERM`, `INT`, ...) as `kill` does.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
