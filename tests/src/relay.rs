//! A TCP relay on loopback between the code under test and a real broker: it counts
//! every connection it is asked for (an oracle of its own), cuts the ones it carries or
//! lets them go silent (open, and nothing passes: a peer gone without a word), and can
//! refuse new ones for a while, as a broker that is down does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay to one broker; it stops when dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    accepted: AtomicUsize,
    refusing: AtomicBool,
    /// Bumped to cut every connection carried.
    cuts: watch::Sender<u64>,
    /// The silence of each connection carried.
    silences: Mutex<Vec<Weak<AtomicBool>>>,
}

impl Relay {
    /// A relay on a free port of 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            accepted: AtomicUsize::new(0),
            refusing: AtomicBool::new(false),
            cuts: watch::channel(0).0,
            silences: Mutex::default(),
        });
        let task = tokio::spawn(accept(listener, target, shared.clone()));
        Relay { addr, shared, task }
    }

    /// Where the code under test connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections were asked for so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Closes every connection the relay carries, both ways.
    pub fn cut(&self) {
        self.shared.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Stops passing bytes on every connection carried, both ways, and keeps them open
    /// until they are cut: nothing written on them from now on arrives. New connections
    /// are carried as before.
    pub fn stall(&self) {
        let silences = self
            .shared
            .silences
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for silent in silences.iter().filter_map(Weak::upgrade) {
            silent.store(true, Ordering::SeqCst);
        }
    }

    /// While `refusing`, a new connection is closed as soon as it is accepted.
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    while let Ok((inbound, _)) = listener.accept().await {
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.refusing.load(Ordering::SeqCst) {
            continue;
        }
        let silent = Arc::new(AtomicBool::new(false));
        {
            let mut silences = shared
                .silences
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            silences.retain(|silence| silence.strong_count() > 0);
            silences.push(Arc::downgrade(&silent));
        }
        let mut cut = shared.cuts.subscribe();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (from_client, to_client) = inbound.into_split();
            let (from_broker, to_broker) = outbound.into_split();
            tokio::select! {
                _ = pass(from_client, to_broker, &silent) => {}
                _ = pass(from_broker, to_client, &silent) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

/// Passes what `from` reads to `to` until either side closes, or, once `silent`, holds
/// whatever it reads, a close included, and keeps both sides open until the connection
/// is cut. The check comes after the read, so that nothing written after `stall` passes.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: &AtomicBool,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await;
        if silent.load(Ordering::SeqCst) {
            // Not even a close passes.
            std::future::pending::<()>().await;
        }
        let read = match read {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
