//! The command side of the Redis broker: one connection for every send and history read
//! of the process (in a cluster, one to each node), opened on first use and again after
//! it is lost.
//!
//! Opening is shared: while an attempt is in flight, every command that needs the
//! connection waits for that same attempt, so a Redis that hangs costs all of them one
//! timeout together, not one each in turn.
//!
//! A connection is dropped when it says it is lost, and when a command on it fails for
//! want of a node (refused, cut, or silent past the timeout): in a cluster, the next
//! command then opens one that reads the layout afresh. A cluster connection opened
//! while a master was dying would otherwise keep sending that master's slots to it
//! long after its replica took over, as nothing on it ever answers `MOVED`.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use redis::aio::{AsyncPushSender, ConnectionLike, SendError};
use redis::{Cmd, ErrorKind, Pipeline, PushInfo, PushKind, RedisError, RedisFuture, Value};

use super::server::{Connection, Server};

/// The process's command connection.
pub(super) struct Link {
    server: Server,
    state: Mutex<State>,
    opened: AtomicU64,
}

type Attempt = Shared<BoxFuture<'static, Result<Connection, RedisError>>>;

enum State {
    Closed,
    Opening(u64, Attempt),
    Open(u64, Connection),
}

impl Link {
    pub(super) fn new(server: Server) -> Arc<Link> {
        Arc::new(Link {
            server,
            state: Mutex::new(State::Closed),
            opened: AtomicU64::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection, opening one if there is none. An error means nothing was
    /// sent on it.
    pub(super) async fn connection(self: &Arc<Self>) -> Result<Linked, RedisError> {
        let (number, opened) = self.open_connection().await;
        Ok(Linked {
            connection: opened?,
            link: self.clone(),
            number,
        })
    }

    async fn open_connection(self: &Arc<Self>) -> (u64, Result<Connection, RedisError>) {
        let (number, attempt) = {
            let mut state = self.state();
            match &*state {
                State::Open(number, connection) => return (*number, Ok(connection.clone())),
                State::Opening(number, attempt) => (*number, attempt.clone()),
                State::Closed => {
                    let number = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
                    let attempt = self.open(number);
                    *state = State::Opening(number, attempt.clone());
                    (number, attempt)
                }
            }
        };
        let opened = attempt.await;
        let mut state = self.state();
        if matches!(&*state, State::Opening(current, _) if *current == number) {
            *state = match &opened {
                Ok(connection) => State::Open(number, connection.clone()),
                Err(_) => State::Closed,
            };
        }
        (number, opened)
    }

    fn open(self: &Arc<Self>, number: u64) -> Attempt {
        let server = self.server.clone();
        // The connection says when it is lost (in a cluster, any of its nodes), so that
        // the next command opens another rather than failing on a dead one.
        let lost = Lost {
            link: Arc::downgrade(self),
            number,
        };
        async move { server.connect(lost).await }.boxed().shared()
    }

    /// Forgets connection `number` if it is the open one.
    fn forget(&self, number: u64) {
        let mut state = self.state();
        if matches!(&*state, State::Open(open, _) if *open == number) {
            *state = State::Closed;
        }
    }
}

/// A connection of the link, which tells the link when a command on it failed for want of
/// a node.
#[derive(Clone)]
pub(super) struct Linked {
    connection: Connection,
    link: Arc<Link>,
    number: u64,
}

impl Linked {
    fn check<T>(&self, result: Result<T, RedisError>) -> Result<T, RedisError> {
        if let Err(error) = &result {
            // Refused, cut and silent past the timeout are all I/O errors to redis-rs. An
            // answer Redis gave (`WRONGTYPE`, ...) never comes here as an error: redis-rs
            // hands it over as a value, and its `query` makes it an error after this.
            let unreachable =
                error.is_io_error() || error.kind() == ErrorKind::ClusterConnectionNotFound;
            if unreachable {
                self.link.forget(self.number);
            }
        }
        result
    }
}

impl Deref for Linked {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

impl DerefMut for Linked {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

impl ConnectionLike for Linked {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let result = self.connection.req_packed_command(cmd).await;
            self.check(result)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let result = self
                .connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.check(result)
        })
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}

/// Takes the pushes of connection `number`: only its disconnection matters.
struct Lost {
    link: Weak<Link>,
    number: u64,
}

impl AsyncPushSender for Lost {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        if info.kind == PushKind::Disconnection {
            if let Some(link) = self.link.upgrade() {
                link.forget(self.number);
            }
        }
        Ok(())
    }
}
