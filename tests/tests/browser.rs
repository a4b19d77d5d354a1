//! The chat example in a real browser: two tabs of headless Chromium, driven by
//! Playwright (`tests/browser/chat.mjs`), see each other's messages through EventSource.
//!
//! Needs Chromium and Node.js (`.ci/run` installs both); it installs Playwright itself
//! with `npm ci` if `tests/browser/node_modules` is missing.

use std::path::Path;
use std::process::Command;

use tests::example::Example;

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
    let chat = Example::start("chat");
    let addr = &chat.addr;
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
