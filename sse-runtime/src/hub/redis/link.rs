//! The command side of the Redis broker: one connection for every send and history read
//! of the process, opened on first use and again after it is lost.
//!
//! Opening is shared: while an attempt is in flight, every command that needs the
//! connection waits for that same attempt, so a Redis that hangs costs all of them one
//! timeout together, not one each in turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError};

/// The process's command connection.
pub(super) struct Link {
    client: redis::Client,
    config: AsyncConnectionConfig,
    state: Mutex<State>,
    opened: AtomicU64,
}

type Attempt = Shared<BoxFuture<'static, Result<MultiplexedConnection, RedisError>>>;

enum State {
    Closed,
    Opening(u64, Attempt),
    Open(u64, MultiplexedConnection),
}

impl Link {
    pub(super) fn new(client: redis::Client, config: AsyncConnectionConfig) -> Arc<Link> {
        Arc::new(Link {
            client,
            config,
            state: Mutex::new(State::Closed),
            opened: AtomicU64::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection, opening one if there is none. An error means nothing was
    /// sent on it.
    pub(super) async fn connection(self: &Arc<Self>) -> Result<MultiplexedConnection, RedisError> {
        let (number, attempt) = {
            let mut state = self.state();
            match &*state {
                State::Open(_, connection) => return Ok(connection.clone()),
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
        opened
    }

    fn open(self: &Arc<Self>, number: u64) -> Attempt {
        let client = self.client.clone();
        // The connection says when it is lost, so that the next command opens another
        // rather than failing on a dead one.
        let config = self.config.clone().set_push_sender(Lost {
            link: Arc::downgrade(self),
            number,
        });
        async move {
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
        }
        .boxed()
        .shared()
    }

    /// Forgets connection `number` if it is the open one.
    fn forget(&self, number: u64) {
        let mut state = self.state();
        if matches!(&*state, State::Open(open, _) if *open == number) {
            *state = State::Closed;
        }
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
