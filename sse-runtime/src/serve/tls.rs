//! TLS for [`serve`](super::serve), with rustls: a certificate chain and its key from PEM
//! files, or a `rustls::ServerConfig` of the app's own. ALPN offers `h2` and `http/1.1`:
//! a client that chooses `h2` is served by hyper's HTTP/2 server, one that chooses
//! `http/1.1` (or nothing) as over plain TCP, with an idle stream holding no buffer of
//! this crate's (rustls keeps its own).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::connection::{self, WithPeer};
use super::limits::Limits;

/// The protocols offered by ALPN, the preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How [`serve`](super::serve) speaks TLS: give it to [`Serve::tls`](super::Serve::tls).
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let tls = sse_runtime::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3443").await?;
/// sse_runtime::serve(listener, app).tls(tls).await
/// # }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.acceptor.config().alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Reads a certificate chain (the server's certificate first) and its private key
    /// (PKCS #8, PKCS #1 or SEC1) from PEM files, for rustls's safe defaults (TLS 1.2 and
    /// 1.3, the `aws-lc-rs` provider, rustls's default) and ALPN `h2` then `http/1.1`.
    ///
    /// An error names the file and what is wrong with it.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| invalid(format!("cannot read certificates from {cert:?}: {error}")))?;
        if chain.is_empty() {
            return Err(invalid(format!("{cert:?} holds no PEM certificate")));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|error| invalid(format!("cannot read a private key from {key:?}: {error}")))?;
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|error| invalid(format!("the certificate or its key is refused: {error}")))?;
        Ok(Self::from_config(Arc::new(config)))
    }

    /// The app's own rustls configuration. ALPN offers `h2` and `http/1.1` unless the
    /// configuration names its protocols (name only `http/1.1` to keep HTTP/2 out).
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        let config = match config.alpn_protocols.is_empty() {
            true => {
                let mut config = ServerConfig::clone(&config);
                config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
                Arc::new(config)
            }
            false => config,
        };
        Self {
            acceptor: TlsAcceptor::from(config),
        }
    }
}

impl From<Arc<ServerConfig>> for TlsConfig {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::from_config(config)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The TLS stream of `tcp` once its handshake is done, within the header timeout.
async fn handshake(
    tls: TlsConfig,
    tcp: TcpStream,
    peer: SocketAddr,
    limits: Limits,
) -> Option<Box<TlsStream<TcpStream>>> {
    match tokio::time::timeout(limits.header, tls.acceptor.accept(tcp)).await {
        Ok(Ok(socket)) => Some(Box::new(socket)),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "a TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "a TLS handshake took longer than the header timeout");
            None
        }
    }
}

/// Serves one connection over TLS: the handshake within the header timeout, then HTTP/2
/// or HTTP/1.1 as ALPN chose.
pub(super) async fn run(
    tls: TlsConfig,
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    stop: watch::Receiver<bool>,
    limits: Limits,
) {
    // Both boxed: the handshake's state is freed once it is done, and rustls's, moved by
    // value into the connection's future, would be laid out there more than once.
    let Some(socket) = Box::pin(handshake(tls, tcp, peer, limits)).await else {
        return;
    };
    let h2 = socket.get_ref().1.alpn_protocol() == Some(b"h2");
    match h2 {
        // Boxed, as over TCP: hyper's connection is larger than all the rest.
        true => {
            Box::pin(connection::http2(
                socket,
                Vec::new(),
                WithPeer { app, peer },
                stop,
            ))
            .await
        }
        false => connection::run(socket, peer, app, stop, limits).await,
    }
}
