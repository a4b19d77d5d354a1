//! TLS for the tests: a self-signed certificate for `localhost`, written to PEM files as
//! an operator would give them, and a client that trusts it and nothing else.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A certificate for `localhost` and its key, in PEM files of their own.
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS #8).
    pub key: PathBuf,
    roots: RootCertStore,
    dir: PathBuf,
}

impl SelfSigned {
    /// Makes a new pair, in a directory of its own under the system's temporary one.
    pub fn new() -> Self {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a self-signed certificate");
        let dir = std::env::temp_dir().join(format!(
            "sse-tls-{}-{:x}",
            std::process::id(),
            next_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, pair.cert.pem()).unwrap();
        std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(pair.cert.der().clone()).unwrap();
        Self {
            cert,
            key,
            roots,
            dir,
        }
    }

    /// The server's side: [`sse_runtime::TlsConfig`] from the two files.
    pub fn server(&self) -> sse_runtime::TlsConfig {
        sse_runtime::TlsConfig::from_pem_files(&self.cert, &self.key).expect("a TLS config")
    }

    /// Connects to `localhost` at `port` over TLS, offering `alpn` (`h2`, `http/1.1`).
    pub async fn connect(&self, port: u16, alpn: &[&str]) -> TlsStream<TcpStream> {
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("a TLS handshake with the server's certificate")
    }
}

impl Default for SelfSigned {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A suffix that no other pair of this process has.
fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
