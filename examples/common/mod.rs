//! How every example starts and stops: it listens on `SSE_ADDR` (default
//! `127.0.0.1:3000`), over TLS when `SSE_TLS_CERT` and `SSE_TLS_KEY` name PEM files
//! (HTTP/2 or HTTP/1.1, as the client's ALPN chooses), checks the hub's configuration
//! (`SSE_REDIS_URL`) before it serves, says where it serves, logs as `RUST_LOG` says
//! (`RUST_LOG=sse_runtime=debug` shows a span per stream), and stops cleanly on Ctrl-C
//! or SIGTERM. A mistake in any variable ends it at once with one line that says what
//! to change.

use std::process::ExitCode;

use sse_runtime::{Hub, TlsConfig, AMQP_URL_VAR, REDIS_CLUSTER_VAR, REDIS_URL_VAR};
use tracing_subscriber::EnvFilter;

/// The variable that names the address to listen on.
const ADDR_VAR: &str = "SSE_ADDR";

/// The variables that name the PEM files of the certificate chain and its key.
const TLS_VARS: (&str, &str) = ("SSE_TLS_CERT", "SSE_TLS_KEY");

/// Serves `app` until the process is asked to stop; `routes` tells the user what to open,
/// each `{addr}` replaced by the address listened on.
pub(crate) async fn serve(app: axum::Router, routes: &str) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .init();
    let addr = std::env::var(ADDR_VAR).unwrap_or_else(|_| "127.0.0.1:3000".into());
    let tls = match tls() {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = Hub::global().check() {
        eprintln!("{error}");
        return ExitCode::from(2);
    }
    let listener = match sse_runtime::listen(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "cannot listen on {addr}: {error}; set {ADDR_VAR} to another address, as in {ADDR_VAR}=127.0.0.1:3001"
            );
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().map_or(addr, |addr| addr.to_string());
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let hub = match (
        var(REDIS_URL_VAR),
        var(REDIS_CLUSTER_VAR),
        var(AMQP_URL_VAR),
    ) {
        (Some(url), _, _) => format!("Redis at {}", url.trim()),
        (_, Some(nodes), _) => format!("the Redis Cluster of {}", nodes.trim()),
        (_, _, Some(url)) => format!("RabbitMQ at {}", url.trim()),
        _ => "the embedded hub".to_owned(),
    };
    let routes = match tls {
        Some(_) => routes.replace("http://", "https://"),
        None => routes.to_owned(),
    };
    println!("{} (on {hub})", routes.replace("{addr}", &addr));
    let mut server = sse_runtime::serve(listener, app);
    if let Some(tls) = tls {
        server = server.tls(tls);
    }
    match server
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

/// The TLS configuration `SSE_TLS_CERT` and `SSE_TLS_KEY` name, if they do.
fn tls() -> Result<Option<TlsConfig>, String> {
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let (cert_var, key_var) = TLS_VARS;
    match (var(cert_var), var(key_var)) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => TlsConfig::from_pem_files(cert.trim(), key.trim())
            .map(Some)
            .map_err(|error| format!("cannot serve TLS: {error}; set {cert_var} and {key_var} to PEM files")),
        (Some(_), None) | (None, Some(_)) => Err(format!(
            "set both {cert_var} and {key_var} (PEM files of the certificate chain and its key), or neither"
        )),
    }
}
