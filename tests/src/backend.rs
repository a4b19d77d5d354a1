//! The two backends every hub test runs against: the embedded hub, and a hub on a real
//! `redis-server` of the test's own.

use sse_runtime::{Hub, HubBuilder};

use crate::redis_server::RedisServer;

/// A backend under test: its Redis server, if it has one.
pub struct Backend {
    /// The Redis server behind the hub, for Redis-backed runs.
    pub redis: Option<RedisServer>,
}

impl Backend {
    /// The embedded hub.
    pub fn embedded() -> Backend {
        Backend { redis: None }
    }

    /// A hub on a `redis-server` started for this test.
    pub fn redis() -> Backend {
        Backend {
            redis: Some(RedisServer::start()),
        }
    }

    /// A new hub of this backend with default settings.
    pub fn hub(&self) -> Hub {
        self.hub_with(|builder| builder)
    }

    /// A new hub of this backend, with settings.
    pub fn hub_with(&self, settings: impl FnOnce(HubBuilder) -> HubBuilder) -> Hub {
        let builder = match &self.redis {
            Some(redis) => Hub::builder().redis_url(redis.url()),
            None => Hub::builder(),
        };
        settings(builder).build().expect("a hub")
    }
}

/// Runs an async test function once per backend, as `mod name { embedded, redis }`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$test($crate::backend::Backend::embedded()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$test($crate::backend::Backend::redis()).await;
            }
        }
    )*};
}
