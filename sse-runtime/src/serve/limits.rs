//! The limits of a server: how long it waits for each part of a request and of a
//! response, and how large a request head may be. Each is a setter on
//! [`Serve`](super::Serve); the defaults stand beside hyper's and nginx's:
//!
//! | limit | default | hyper 1 (`axum::serve`) | nginx |
//! |---|---|---|---|
//! | [`header_timeout`](super::Serve::header_timeout): first byte to the end of a head | 10 s | 30 s (`header_read_timeout`, with a timer; `axum::serve` sets none) | 60 s (`client_header_timeout`) |
//! | [`idle_timeout`](super::Serve::idle_timeout): a connection with no request under way | 75 s | none | 75 s (`keepalive_timeout`) |
//! | [`max_head`](super::Serve::max_head): the bytes of a request head | 64 KiB | ~400 KiB (`max_buf_size`) | 8 KiB a line, 32 KiB in all (`large_client_header_buffers 4 8k`) |
//! | [`write_timeout`](super::Serve::write_timeout): a client that takes nothing | 60 s | none | 60 s (`send_timeout`) |
//! | [`drain_timeout`](super::Serve::drain_timeout): after a shutdown signal | 5 s | none | none (`worker_shutdown_timeout`) |
//!
//! A head that is not whole within the header timeout is answered `408` and its
//! connection closed; one that grows past `max_head` is answered `431`; a connection
//! that starts no request within the idle timeout is closed. The same limits hold after
//! a connection is handed to hyper (its `header_read_timeout` and `max_header_size`).

use std::time::Duration;

/// How long requests in flight get to finish after a shutdown signal, by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client may read nothing of a response before its connection is closed, by
/// default: nginx's `send_timeout`.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a request head may take from its first byte to its last, by default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may stay open with no request under way, by default: nginx's
/// `keepalive_timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// The largest request head taken, by default: 64 KiB.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// The limits of a server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) drain: Duration,
    pub(crate) write: Duration,
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
    pub(crate) max_head: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            drain: DEFAULT_DRAIN_TIMEOUT,
            write: DEFAULT_WRITE_TIMEOUT,
            header: DEFAULT_HEADER_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
            max_head: DEFAULT_MAX_HEAD,
        }
    }
}
