//! The examples in a real browser, headless Chromium driven by Playwright: two tabs of
//! the chat see each other's messages through EventSource (`tests/browser/chat.mjs`),
//! and a finished stream stops the browser's EventSource (`tests/browser/finished.mjs`).
//!
//! Needs Chromium and Node.js (`.ci/run` installs both); it installs Playwright itself
//! with `npm ci` if `tests/browser/node_modules` is missing.

use std::path::Path;
use std::process::Command;

use tests::example::Example;

/// Runs `script` of `tests/browser` against example `example` in Chromium.
fn in_browser(example: &str, script: &str) {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    // The tests of this binary run at once: one installs, the other waits for it.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let installing = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    drop(installing);
    assert!(
        Path::new("/usr/bin/chromium").exists() || std::env::var_os("CHROMIUM").is_some(),
        "install Chromium (`apt-get install chromium`; `.ci/run` does) or set CHROMIUM"
    );
    let server = Example::start(example);
    let run = Command::new("node")
        .arg(browser_dir.join(script))
        .arg(format!("http://{}", server.addr))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok:"), "{stdout}");
}

#[test]
fn two_tabs_of_a_real_browser_chat_through_event_source() {
    in_browser("chat", "chat.mjs");
}

#[test]
fn a_finished_stream_stops_the_browsers_event_source() {
    in_browser("count", "finished.mjs");
}
