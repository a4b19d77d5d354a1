//! TLS on `sse_runtime::serve`: a self-signed certificate from PEM files, a channel view
//! streamed over HTTP/1.1 and the other requests answered, `curl --http2` reading a view,
//! handshakes that never come or are not TLS, and files that hold no certificate or key.
//! HTTP/2 over TLS with a hundred streams, and a graceful shutdown over TLS, are in
//! `http2.rs` (a shutdown ends every stream of the process, so no test here makes one).

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Request, StatusCode, Version};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sse_runtime::prelude::*;
use tests::tls::SelfSigned;
use tests::PATIENCE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The channel of the stream over TLS.
#[sse_view("/news", channel = "news")]
pub struct News;

/// Three events, then the end.
#[sse_view("/count")]
async fn count(sse: &mut Sse) {
    for n in 1..=3 {
        sse.add_message("n", &n.to_string());
    }
}

fn app(hub: &Hub) -> Router {
    sse_routes![News, count]
        .route("/page", get(|| async { "hello" }))
        .route("/echo", post(|body: String| async move { body }))
        .layer(Extension(hub.clone()))
}

/// A server on a free port with the certificate's TLS and `header_timeout`, served until
/// the test's runtime ends.
async fn start(hub: &Hub, certificate: &SelfSigned, header_timeout: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = sse_runtime::serve(listener, app(hub))
        .tls(certificate.server())
        .header_timeout(header_timeout);
    tokio::spawn(server.into_future());
    addr
}

fn request(method: &str, path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_view_streams_over_tls_and_other_requests_are_answered() {
    let (hub, certificate) = (Hub::embedded(), SelfSigned::new());
    let addr = start(&hub, &certificate, Duration::from_secs(10)).await;

    // A stream over HTTP/1.1, as ALPN chose.
    let tls = certificate.connect(addr.port(), &["http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(request("GET", "/news", ""))
        .await
        .expect("a response over TLS");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = Box::pin(sse_test::parse_events(response.into_body()));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while hub.listened_channels() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the stream listens");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for n in 0..3 {
        hub.send_event("n", n.to_string(), "news").await.unwrap();
    }
    for n in 0..3 {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("events in time")
            .expect("the stream goes on")
            .expect("an event");
        assert_eq!((event.event.as_str(), event.data), ("n", n.to_string()));
    }

    // A POST (hyper's path) and a page (this crate's) on another connection.
    let tls = certificate.connect(addr.port(), &["http/1.1"]).await;
    let (mut other, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    for (method, path, body, expected) in [
        ("POST", "/echo", "over tls", "over tls"),
        ("GET", "/page", "", "hello"),
        ("POST", "/echo", "again", "again"),
    ] {
        // HTTP/1.1: the connection takes the next request once the last is done.
        other.ready().await.expect("the connection stays open");
        let response = other
            .send_request(request(method, path, body))
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error:?}"));
        assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, expected, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_a_view_over_http2_with_tls() {
    let (hub, certificate) = (Hub::embedded(), SelfSigned::new());
    let addr = start(&hub, &certificate, Duration::from_secs(10)).await;
    let port = addr.port();
    let cert = certificate.cert.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["--http2", "--silent", "--show-error", "--no-buffer"])
            .args(["--max-time", "20", "--cacert"])
            .arg(&cert)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(["--write-out", "\nHTTP/%{http_version}\n"])
            .arg(format!("https://localhost:{port}/count"))
            .output()
            .expect("curl runs (apt-get install curl)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, version) = stdout
        .rsplit_once('\n')
        .unwrap()
        .0
        .rsplit_once('\n')
        .unwrap();
    assert_eq!(version, "HTTP/2", "curl chose HTTP/2 by ALPN");
    let events = tests::events_in(body.as_bytes()).await;
    let data: Vec<&str> = events.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data, ["1", "2", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_comes_or_is_not_tls_is_closed_and_others_are_served() {
    let (hub, certificate) = (Hub::embedded(), SelfSigned::new());
    let header_timeout = Duration::from_millis(500);
    let addr = start(&hub, &certificate, header_timeout).await;

    // Silent after connecting: closed once the header timeout has passed.
    // Timed from before it connects: the server's timer starts after that.
    let started = tokio::time::Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Plain HTTP to the TLS port: refused by the handshake, then closed.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();

    // Meanwhile a TLS client is served.
    let tls = certificate.connect(addr.port(), &["http/1.1"]).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let page = sender
        .send_request(request("GET", "/page", ""))
        .await
        .unwrap();
    assert_eq!(
        page.into_body().collect().await.unwrap().to_bytes(),
        "hello"
    );

    // Closed or reset (a TLS alert may be left unread): either way, no page.
    let mut rest = Vec::new();
    let _closed_or_reset = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut rest))
        .await
        .expect("the plain connection is closed");
    assert!(
        !String::from_utf8_lossy(&rest).contains("hello"),
        "plain HTTP got no page"
    );

    let mut nothing = Vec::new();
    tokio::time::timeout(PATIENCE, silent.read_to_end(&mut nothing))
        .await
        .expect("the silent connection is closed")
        .expect("closed, not reset");
    assert!(nothing.is_empty(), "nothing is sent before a handshake");
    assert!(
        started.elapsed() >= header_timeout,
        "closed at the header timeout, not before ({:?})",
        started.elapsed()
    );
}

#[test]
fn pem_files_without_a_certificate_or_a_key_are_refused_with_their_name() {
    let certificate = SelfSigned::new();
    let missing = certificate.cert.with_file_name("missing.pem");
    let error = sse_runtime::TlsConfig::from_pem_files(&missing, &certificate.key).unwrap_err();
    assert!(
        error.to_string().contains("missing.pem"),
        "the error names the file: {error}"
    );

    // The key where the certificate should be, and the other way round.
    let error =
        sse_runtime::TlsConfig::from_pem_files(&certificate.key, &certificate.key).unwrap_err();
    assert!(
        error.to_string().contains("holds no PEM certificate")
            && error.to_string().contains("key.pem"),
        "{error}"
    );
    let error =
        sse_runtime::TlsConfig::from_pem_files(&certificate.cert, &certificate.cert).unwrap_err();
    assert!(
        error.to_string().contains("cannot read a private key")
            && error.to_string().contains("cert.pem"),
        "{error}"
    );

    sse_runtime::TlsConfig::from_pem_files(&certificate.cert, &certificate.key)
        .expect("the pair itself is taken");
}
