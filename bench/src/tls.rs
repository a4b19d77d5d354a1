//! `--scenario tls`: the memory of an idle stream over TLS, HTTP/1.1 (a connection each)
//! and HTTP/2 (many streams on a connection), served by `sse_runtime::serve(..).tls(..)`
//! and by a hand-written axum + tokio-rustls server (`tls-axum`: hyper-util's automatic
//! HTTP/1-or-2 builder, as `axum::serve` uses, behind a `TlsAcceptor`), the same app on
//! both, in the same run; and plaintext HTTP/1.1 (`embedded`) against `axum::serve`
//! (`embedded-axum`) beside them. Each figure is the server's resident memory after the
//! streams opened, less before, over their number.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tests::tls::SelfSigned;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::child::Server;

/// Idle streams per measurement.
const STREAMS: usize = 2_000;
/// Streams per HTTP/2 connection (hyper's server allows 200 at once).
const PER_CONNECTION: usize = 100;
/// Streams opened at once.
const PARALLEL: usize = 100;

/// What is measured: a connection per stream over TLS, many streams on an HTTP/2
/// connection over TLS, or plaintext HTTP/1.1.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Http1Tls,
    Http2Tls,
    Http1Plain,
}

/// The rounds, printed as they come, then the ratios.
pub(crate) async fn run() {
    let certificate = Arc::new(SelfSigned::new());
    std::env::set_var("SSE_TLS_CERT", &certificate.cert);
    std::env::set_var("SSE_TLS_KEY", &certificate.key);
    println!("idle streams: {STREAMS} each, the server's RSS after less before, per stream");
    for (shape, label, ours, theirs) in [
        (
            Shape::Http1Tls,
            "TLS HTTP/1.1, a connection per stream",
            "tls",
            "tls-axum",
        ),
        (
            Shape::Http2Tls,
            "TLS HTTP/2, 100 streams per connection",
            "tls",
            "tls-axum",
        ),
        (
            Shape::Http1Plain,
            "plaintext HTTP/1.1",
            "embedded",
            "embedded-axum",
        ),
    ] {
        let ours_bytes = per_stream(shape, ours, &certificate).await;
        let theirs_bytes = per_stream(shape, theirs, &certificate).await;
        println!(
            "{label:<40} ours {ours_bytes:>6} B  axum{} {theirs_bytes:>6} B  ratio {:.2}",
            match shape {
                Shape::Http1Plain => "::serve        ",
                _ => " + tokio-rustls",
            },
            ours_bytes as f64 / theirs_bytes as f64
        );
    }
}

/// The server's memory per idle stream of `shape` under `config`.
async fn per_stream(shape: Shape, config: &str, certificate: &Arc<SelfSigned>) -> u64 {
    let server = Server::spawn(config, "");
    // One stream first, so that what every server allocates once is in the baseline.
    let warm = open(shape, server.addr, certificate, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss();
    let streams = open(shape, server.addr, certificate, STREAMS).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss();
    drop((warm, streams));
    after.saturating_sub(before) / STREAMS as u64
}

/// What keeps a stream open: its response body, and the connection's task for the
/// first stream of a connection.
type Open = (Incoming, Option<tokio::task::JoinHandle<()>>);

/// Opens `count` streams of `/events` in `shape`, and waits for every response head.
async fn open(
    shape: Shape,
    addr: SocketAddr,
    certificate: &Arc<SelfSigned>,
    count: usize,
) -> Vec<Open> {
    let mut open = Vec::with_capacity(count);
    match shape {
        Shape::Http2Tls => {
            for first in (0..count).step_by(PER_CONNECTION) {
                let tls = certificate.connect(addr.port(), &["h2"]).await;
                let (sender, connection) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                        .await
                        .expect("an HTTP/2 connection");
                let task = tokio::spawn(async move {
                    let _ = connection.await;
                });
                let streams = PER_CONNECTION.min(count - first);
                let bodies = join_all((0..streams).map(|_| {
                    let mut sender = sender.clone();
                    async move {
                        let request =
                            Request::get(format!("https://localhost:{}/events", addr.port()))
                                .body(Empty::<Bytes>::new())
                                .unwrap();
                        sender
                            .send_request(request)
                            .await
                            .expect("a stream")
                            .into_body()
                    }
                }))
                .await;
                let mut bodies = bodies.into_iter();
                // The first keeps the connection's task; the others only their body.
                if let Some(body) = bodies.next() {
                    open.push((body, Some(task)));
                }
                open.extend(bodies.map(|body| (body, None)));
            }
        }
        Shape::Http1Tls | Shape::Http1Plain => {
            for first in (0..count).step_by(PARALLEL) {
                let batch = PARALLEL.min(count - first);
                open.extend(join_all((0..batch).map(|_| http1(shape, addr, certificate))).await);
            }
        }
    }
    open
}

/// One HTTP/1.1 stream, over TLS or not.
async fn http1(shape: Shape, addr: SocketAddr, certificate: &Arc<SelfSigned>) -> Open {
    let request = Request::get("/events")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    macro_rules! over {
        ($io:expr) => {{
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new($io))
                .await
                .expect("an HTTP/1.1 connection");
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            (
                sender
                    .send_request(request)
                    .await
                    .expect("a stream")
                    .into_body(),
                Some(task),
            )
        }};
    }
    match shape {
        Shape::Http1Plain => over!(TcpStream::connect(addr).await.expect("connect")),
        _ => over!(certificate.connect(addr.port(), &["http/1.1"]).await),
    }
}

/// `sse-bench server tls-axum <port>`: the hand-written baseline, `app` behind a
/// `TlsAcceptor` and hyper-util's automatic builder, a task per connection.
pub(crate) async fn serve_axum(listener: TcpListener, app: Router) {
    let chain = CertificateDer::pem_file_iter(pem_var("SSE_TLS_CERT"))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .expect("the bench's certificate");
    let key = PrivateKeyDer::from_pem_file(pem_var("SSE_TLS_KEY")).expect("its key");
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a TLS configuration");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(app);
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// `sse-bench server tls <port>`: this crate's server over TLS.
pub(crate) async fn serve_ours(listener: TcpListener, app: Router) {
    let tls =
        sse_runtime::TlsConfig::from_pem_files(pem_var("SSE_TLS_CERT"), pem_var("SSE_TLS_KEY"))
            .expect("the bench's certificate");
    sse_runtime::serve(listener, app)
        .tls(tls)
        .await
        .expect("serve");
}

fn pem_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} names a PEM file"))
}
