//! How every example starts and stops: it listens on `SSE_ADDR` (default
//! `127.0.0.1:3000`), checks the hub's configuration (`SSE_REDIS_URL`) before it serves,
//! says where it serves, and stops cleanly on Ctrl-C or SIGTERM. A mistake in either
//! variable ends it at once with one line that says what to change.

use std::process::ExitCode;

use sse_runtime::{Hub, REDIS_URL_VAR};

/// The variable that names the address to listen on.
const ADDR_VAR: &str = "SSE_ADDR";

/// Serves `app` until the process is asked to stop; `routes` tells the user what to open,
/// each `{addr}` replaced by the address listened on.
pub(crate) async fn serve(app: axum::Router, routes: &str) -> ExitCode {
    let addr = std::env::var(ADDR_VAR).unwrap_or_else(|_| "127.0.0.1:3000".into());
    if let Err(error) = Hub::global().check() {
        eprintln!("{error}");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "cannot listen on {addr}: {error}; set {ADDR_VAR} to another address, as in {ADDR_VAR}=127.0.0.1:3001"
            );
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().map_or(addr, |addr| addr.to_string());
    let hub = match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => format!("Redis at {}", url.trim()),
        _ => "the embedded hub".to_owned(),
    };
    println!("{} (on {hub})", routes.replace("{addr}", &addr));
    match sse_runtime::serve(listener, app)
        .with_graceful_shutdown(sse_runtime::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serving failed: {error}");
            ExitCode::FAILURE
        }
    }
}
