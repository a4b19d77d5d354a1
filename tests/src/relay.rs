//! A TCP relay on loopback between the code under test and a real broker: it counts
//! every connection it is asked for (an oracle of its own), cuts the ones it carries or
//! lets them go silent (open, and nothing passes: a peer gone without a word), and can
//! refuse new ones for a while, as a broker that is down does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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
    /// Bumped to silence every connection carried.
    stalls: watch::Sender<u64>,
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
            stalls: watch::channel(0).0,
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
    /// until they are cut. New connections are carried as before.
    pub fn stall(&self) {
        self.shared.stalls.send_modify(|stalls| *stalls += 1);
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
        let mut cut = shared.cuts.subscribe();
        let mut stall = shared.stalls.subscribe();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (mut inbound, mut outbound) = (inbound, outbound);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                _ = cut.changed() => return,
                _ = stall.changed() => {}
            }
            // Silent: both sockets open, nothing read or written, until cut.
            let _ = cut.changed().await;
            drop((inbound, outbound));
        });
    }
}
