//! The chat example in a real browser: two tabs of headless Chromium, driven by
//! Playwright (`tests/browser/chat.mjs`), see each other's messages through EventSource.
//!
//! Needs Chromium and Node.js (`.ci/run` installs both); it installs Playwright itself
//! with `npm ci` if `tests/browser/node_modules` is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The chat example's binary, which `cargo test` builds beside this test.
fn chat_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    profile_dir.join("examples").join("chat")
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_tabs_of_a_real_browser_chat_through_event_source() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&browser_dir)
            .status()
            .expect("npm runs (`apt-get install nodejs npm`; `.ci/run` installs it)");
        assert!(
            installed.success(),
            "`npm ci --prefix tests/browser` failed"
        );
    }
    assert!(
        Path::new("/usr/bin/chromium").exists() || std::env::var_os("CHROMIUM").is_some(),
        "install Chromium (`apt-get install chromium`; `.ci/run` does) or set CHROMIUM"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new(chat_binary())
            .env("SSE_ADDR", &addr)
            .env_remove("SSE_REDIS_URL")
            .stdout(Stdio::null())
            .spawn()
            .expect("the chat example is built by `cargo test`"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the chat example listens");
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = Command::new("node")
        .arg(browser_dir.join("chat.mjs"))
        .arg(format!("http://{addr}"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok:"), "{stdout}");
}
