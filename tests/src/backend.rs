//! The backends every hub test runs against: the embedded hub, a hub on a real
//! `redis-server` of the test's own, and a hub on a Redis Cluster of the test's own.

use sse_runtime::{Hub, HubBuilder};

use crate::rabbitmq::RabbitVhost;
use crate::redis_cluster::RedisCluster;
use crate::redis_server::RedisServer;

/// A backend under test: its Redis server or cluster, if it has one.
pub struct Backend {
    /// The Redis server behind the hub, for Redis-backed runs.
    pub redis: Option<RedisServer>,
    /// The Redis Cluster behind the hub, for cluster runs.
    pub cluster: Option<RedisCluster>,
    /// The RabbitMQ virtual host behind the hub, for RabbitMQ runs.
    pub amqp: Option<RabbitVhost>,
}

impl Backend {
    /// The embedded hub.
    pub fn embedded() -> Backend {
        Backend {
            redis: None,
            cluster: None,
            amqp: None,
        }
    }

    /// A hub on a `redis-server` started for this test.
    pub fn redis() -> Backend {
        Backend {
            redis: Some(RedisServer::start()),
            cluster: None,
            amqp: None,
        }
    }

    /// A hub on a Redis Cluster (three masters, three replicas) started for this test.
    pub fn cluster() -> Backend {
        Backend {
            redis: None,
            cluster: Some(RedisCluster::start()),
            amqp: None,
        }
    }

    /// A hub on the machine's RabbitMQ, in a virtual host made for this test.
    pub fn amqp() -> Backend {
        Backend {
            redis: None,
            cluster: None,
            amqp: Some(RabbitVhost::create()),
        }
    }

    /// The backend's name, as its tests are named.
    pub fn name(&self) -> &'static str {
        match (&self.redis, &self.cluster, &self.amqp) {
            (Some(_), _, _) => "redis",
            (_, Some(_), _) => "cluster",
            (_, _, Some(_)) => "amqp",
            _ => "embedded",
        }
    }

    /// Whether the backend gives `guarantee`: if not, the test says it skips it, with
    /// why (on standard error, shown whatever the test's outcome), and returns false.
    pub fn gives(&self, guarantee: &str, unless: &[(&str, &str)]) -> bool {
        match unless.iter().find(|(backend, _)| *backend == self.name()) {
            Some((backend, why)) => {
                // Past the test harness's capture (which takes `println!`), so that the
                // skip shows in every run's output, passing or not.
                let line = format!("skipped on {backend}: {guarantee}: {why}\n");
                let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
                false
            }
            None => true,
        }
    }

    /// Whether this is the embedded hub.
    pub fn is_embedded(&self) -> bool {
        self.name() == "embedded"
    }

    /// How many channels the broker has subscribers on, as the broker itself counts
    /// them (on Redis, and summed over a cluster's nodes); `None` where there is no such
    /// count (the embedded hub, and RabbitMQ's one stream).
    pub fn subscribed_channels(&self) -> Option<usize> {
        if let Some(redis) = &self.redis {
            return Some(redis.subscribed_channels());
        }
        let cluster = self.cluster.as_ref()?;
        Some(
            cluster
                .nodes()
                .iter()
                .map(RedisServer::subscribed_channels)
                .sum(),
        )
    }

    /// Waits, up to 30 s, until the broker has subscribers on `count` channels (at
    /// once where it keeps no such count): the hub subscribes after a stream opens, and
    /// unsubscribes after it ends, in the background. (On a multi-threaded runtime: the
    /// broker is asked with a blocking client.)
    pub async fn until_subscribed_channels(&self, count: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = tokio::task::block_in_place(|| self.subscribed_channels());
            if now.is_none_or(|now| now == count) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the broker subscribes to {count} channels within 30 s: {now:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Makes the broker drop every connection its clients have (none for the embedded
    /// hub): Redis and each node of a cluster kill them, RabbitMQ closes them.
    pub fn drop_connections(&self) {
        let kill = |redis: &RedisServer| {
            for kind in ["normal", "pubsub"] {
                redis
                    .query(&["CLIENT", "KILL", "TYPE", kind])
                    .expect("CLIENT KILL");
            }
        };
        if let Some(redis) = &self.redis {
            kill(redis);
        }
        if let Some(cluster) = &self.cluster {
            cluster.nodes().iter().for_each(kill);
        }
        if let Some(amqp) = &self.amqp {
            amqp.close_connections();
        }
    }

    /// A new hub of this backend with default settings.
    pub fn hub(&self) -> Hub {
        self.hub_with(|builder| builder)
    }

    /// A new hub of this backend, with settings.
    pub fn hub_with(&self, settings: impl FnOnce(HubBuilder) -> HubBuilder) -> Hub {
        let builder = match (&self.redis, &self.cluster, &self.amqp) {
            (Some(redis), _, _) => Hub::builder().redis_url(redis.url()),
            (_, Some(cluster), _) => Hub::builder().redis_cluster(cluster.urls()),
            (_, _, Some(amqp)) => Hub::builder().amqp_url(amqp.url()),
            _ => Hub::builder(),
        };
        settings(builder).build().expect("a hub")
    }
}

/// Runs an async test function once per backend, as `mod name { embedded, redis,
/// cluster, amqp }`.
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

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                super::$test($crate::backend::Backend::cluster()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn amqp() {
                super::$test($crate::backend::Backend::amqp()).await;
            }
        }
    )*};
}
