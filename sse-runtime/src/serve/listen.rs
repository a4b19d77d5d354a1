//! A listener with room for a crowd: when a server restarts, or a load balancer moves
//! its clients, every `EventSource` comes back within a few seconds.
//!
//! `tokio::net::TcpListener::bind` asks the kernel for a backlog of 128 connections not
//! yet accepted (mio follows the standard library); beyond it, Linux answers with SYN
//! cookies or drops the SYN, and the client waits a second or more before it tries
//! again. [`listen`] asks for [`LISTEN_BACKLOG`]; the kernel caps that at
//! `net.core.somaxconn` (4,096 by default since Linux 5.4).

use std::io;

use tokio::net::{lookup_host, TcpListener, TcpSocket, ToSocketAddrs};

/// The backlog [`listen`] asks for.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` with a backlog of [`LISTEN_BACKLOG`], as `TcpListener::bind` does
/// otherwise: the first of the addresses `addr` resolves to that can be bound, with
/// `SO_REUSEADDR` set (on Unix), so that a restarted server binds again at once.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = sse_runtime::listen("0.0.0.0:3000").await?;
/// sse_runtime::serve(listener, app).await
/// # }
/// ```
pub async fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}
