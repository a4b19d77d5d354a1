//! The open streams of the process: how many there are, how many there may be, and
//! ending them all at once so that a graceful shutdown can finish.
//!
//! Every response of this crate registers here when it is made and leaves when it is
//! dropped. Registering takes a lock once per stream; a stream then checks an atomic flag
//! each time it is polled, so ending them costs nothing while they run.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Duration;

use futures_util::task::AtomicWaker;

use crate::telemetry;

/// Ends every open stream of the process now, and refuses new ones with
/// `503 Service Unavailable`: call it when a graceful shutdown begins, so that
/// `axum::serve(..).with_graceful_shutdown(..)` does not wait for streams that never
/// end. Each stream is sent a last `retry:` between 1 and 5 s, at random, so that its
/// clients reconnect (to another instance) spread over that time rather than all at
/// once, and resume from their last id.
///
/// ```no_run
/// # async fn run(
/// #     listener: tokio::net::TcpListener,
/// #     app: axum::Router,
/// #     stop: tokio::sync::oneshot::Receiver<()>,
/// # ) -> std::io::Result<()> {
/// axum::serve(listener, app)
///     .with_graceful_shutdown(async move {
///         let _ = stop.await; // or tokio::signal::ctrl_c(), a SIGTERM handler...
///         sse_runtime::shutdown();
///     })
///     .await
/// # }
/// ```
pub fn shutdown() {
    let registry = registry();
    registry.shut.store(true, Ordering::SeqCst);
    for stream in registry.streams().values() {
        stream.end();
    }
}

/// Limits the streams open at once in this process; beyond it a new stream is answered
/// with `503 Service Unavailable` and `Retry-After: 1`. `None` (the default) sets no limit.
pub fn set_max_streams(limit: Option<usize>) {
    registry()
        .limit
        .store(limit.unwrap_or(usize::MAX), Ordering::SeqCst);
}

/// How many streams are open in this process now.
pub fn open_streams() -> usize {
    registry().streams().len()
}

#[derive(Default)]
struct Registry {
    streams: Mutex<HashMap<u64, Arc<Entry>>>,
    next_key: AtomicUsize,
    limit: AtomicUsize,
    shut: AtomicBool,
}

impl Registry {
    fn streams(&self) -> MutexGuard<'_, HashMap<u64, Arc<Entry>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        limit: AtomicUsize::new(usize::MAX),
        ..Registry::default()
    })
}

/// A stream's entry in the registry: its flag, and the waker that wakes it to see the flag.
#[derive(Default)]
struct Entry {
    ended: AtomicBool,
    waker: AtomicWaker,
}

impl Entry {
    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// Why a stream could not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The process is shutting down.
    ShuttingDown,
    /// The limit of open streams is reached.
    Full,
}

/// An open stream's place in the registry; leaving it is dropping it.
///
/// It holds the stream's span, `sse_stream` at debug level: the view, and what the view
/// records (the channel, the client, the id it resumed from); "stream opened" when its
/// response is made, "stream ended" with why when it leaves. Disabled, the span is a no-op.
#[derive(Debug)]
pub(crate) struct Registration {
    key: u64,
    stream: Arc<Entry>,
    /// The view the stream is of, for `sse_streams_open`.
    view: &'static str,
    span: tracing::Span,
    /// Why the stream ended, said when it leaves: what its body saw last. A cell, so that
    /// the body can say it while it is in the stream's span.
    ended: Cell<Ended>,
}

/// Why a stream ended, as its span says.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended {
    /// The response was dropped before its end: the client left, stopped reading for
    /// the write timeout, or the connection failed.
    ClientGone,
    /// The view's stream ended (a channel view's when the hub cut it off; its own line
    /// says why).
    ByView,
    /// A shutdown ended it.
    Shutdown,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Registers a new stream of `view`, unless the process is shutting down or full.
    pub(crate) fn open(view: &'static str) -> Result<Registration, Refused> {
        let registry = registry();
        if registry.shut.load(Ordering::SeqCst) {
            telemetry::refused(false);
            return Err(Refused::ShuttingDown);
        }
        let mut streams = registry.streams();
        if streams.len() >= registry.limit.load(Ordering::SeqCst) {
            telemetry::refused(true);
            return Err(Refused::Full);
        }
        let key = registry.next_key.fetch_add(1, Ordering::Relaxed) as u64;
        let stream = Arc::new(Entry::default());
        streams.insert(key, stream.clone());
        telemetry::stream(view, true);
        let span = tracing::debug_span!(
            "sse_stream",
            view,
            channel = tracing::field::Empty,
            client = tracing::field::Empty,
            resumed_from = tracing::field::Empty,
        );
        Ok(Registration {
            key,
            stream,
            view,
            span,
            ended: Cell::new(Ended::ClientGone),
        })
    }

    /// The stream's span: entered while its body is polled, and for the view to record
    /// its fields in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Says why the stream ended, for the span's last line.
    pub(crate) fn end_because(&self, ended: Ended) {
        self.ended.set(ended);
    }

    /// Whether the stream must end.
    pub(crate) fn ended(&self) -> bool {
        self.stream.ended.load(Ordering::SeqCst)
    }

    /// Whether the stream must end; if not, `waker` is woken when it must. For a stream
    /// about to wait.
    pub(crate) fn must_end(&self, waker: &Waker) -> bool {
        if self.stream.ended.load(Ordering::SeqCst) {
            return true;
        }
        self.stream.waker.register(waker);
        // A shutdown between the load and the registration woke no one: look again.
        self.stream.ended.load(Ordering::SeqCst)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().streams().remove(&self.key);
        telemetry::stream(self.view, false);
        let ended = match self.ended.get() {
            Ended::ClientGone => "the client left or stopped reading",
            Ended::ByView => "the view ended it",
            Ended::Shutdown => "shutdown",
        };
        tracing::debug!(parent: &self.span, ended, "stream ended");
    }
}

/// The shortest and longest reconnection delay a stream ended by a shutdown is given.
const RECONNECT_SPREAD: (u64, u64) = (1_000, 5_000);

/// A reconnection delay drawn at random from [`RECONNECT_SPREAD`].
pub(crate) fn reconnect_spread() -> Duration {
    use std::hash::{BuildHasher, RandomState};
    // Each `RandomState` is seeded anew: random enough to spread reconnections.
    let draw = RandomState::new().hash_one(registry().next_key.load(Ordering::Relaxed));
    let (least, most) = RECONNECT_SPREAD;
    Duration::from_millis(least + draw % (most - least + 1))
}
