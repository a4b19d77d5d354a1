//! The Redis the broker talks to, one server or a cluster, and a connection to it: the
//! few things that differ between the two are here, and the rest of the broker is the
//! same for both.
//!
//! A cluster connection (redis-rs's) holds one connection to each node; it follows
//! `MOVED` and `ASK` itself. When any of its nodes is lost the broker drops it whole and
//! opens another, which reads the cluster's layout afresh: after a failover, that is how
//! the promoted replica is found.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::aio::{AsyncPushSender, ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, ProtocolVersion,
    RedisFuture, RedisResult, Value,
};

use super::keys::{self, Keys};
use crate::error::Error;
use crate::hub::Redis;

/// Where Redis is.
#[derive(Clone)]
pub(super) enum Server {
    Single(redis::Client, Duration),
    Cluster(Vec<ConnectionInfo>, Duration),
}

/// A connection to a [`Server`].
#[derive(Clone)]
pub(super) enum Connection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// How many times a cluster command is sent again after a redirection or a lost node,
/// before its error is the answer.
const CLUSTER_RETRIES: u32 = 3;

impl Server {
    /// The server `redis` names, spoken to in RESP3 (the subscriber's messages arrive
    /// as pushes), waiting up to `timeout` for a connection or an answer.
    pub(super) fn new(redis: &Redis, timeout: Duration) -> Result<Server, Error> {
        let unusable = |url: &str, error: redis::RedisError| {
            Error::Config(format!(
                "the Redis URL `{url}` cannot be used ({error}): write redis://host:port/db, or host:port"
            ))
        };
        let resp3 = |url: &str| {
            let info = url.into_connection_info().map_err(|e| unusable(url, e))?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            Ok::<_, Error>(info.set_redis_settings(settings))
        };
        match redis {
            Redis::Server(url) => {
                let client = redis::Client::open(resp3(url)?).map_err(|e| unusable(url, e))?;
                Ok(Server::Single(client, timeout))
            }
            Redis::Cluster(urls) => {
                if urls.is_empty() {
                    return Err(Error::Config(
                        "a Redis Cluster needs at least one seed node: write redis://host:port[,redis://host:port...]".into(),
                    ));
                }
                let nodes = urls
                    .iter()
                    .map(|url| resp3(url))
                    .collect::<Result<_, _>>()?;
                let server = Server::Cluster(nodes, timeout);
                // What the cluster client refuses, it refuses now, not on first use.
                server
                    .cluster_client()
                    .build()
                    .map_err(|e| unusable(&urls.join(","), e))?;
                Ok(server)
            }
        }
    }

    /// How keys are named there.
    pub(super) fn keys(&self) -> Keys {
        match self {
            Server::Single(..) => Keys::Server,
            Server::Cluster(..) => Keys::Cluster,
        }
    }

    /// Opens a connection whose pushes (messages, and its loss) go to `pushes`.
    pub(super) async fn connect(&self, pushes: impl AsyncPushSender) -> RedisResult<Connection> {
        match self {
            Server::Single(client, timeout) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(*timeout))
                    .set_response_timeout(Some(*timeout))
                    .set_push_sender(pushes);
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(Connection::Single(connection))
            }
            Server::Cluster(..) => {
                let client = self.cluster_client().push_sender(pushes).build()?;
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// The settings of a cluster client (a single server has none).
    fn cluster_client(&self) -> ClusterClientBuilder {
        let (nodes, timeout) = match self {
            Server::Cluster(nodes, timeout) => (nodes.clone(), *timeout),
            Server::Single(..) => (Vec::new(), Duration::ZERO),
        };
        ClusterClientBuilder::new(nodes)
            .use_protocol(ProtocolVersion::RESP3)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(CLUSTER_RETRIES)
    }
}

impl Connection {
    /// Subscribes to `channels`: in a cluster, sharded, with one `SSUBSCRIBE` a slot, each
    /// sent to the node that owns the slot, all at once.
    pub(super) async fn subscribe(&mut self, channels: &[&str]) -> RedisResult<()> {
        match self {
            Connection::Single(connection) => connection.subscribe(channels).await,
            Connection::Cluster(connection) => {
                try_join_all(by_slot(channels).into_values().map(|names| {
                    let mut connection = connection.clone();
                    async move { connection.ssubscribe(names).await }
                }))
                .await?;
                Ok(())
            }
        }
    }

    /// Unsubscribes from `channels`.
    pub(super) async fn unsubscribe(&mut self, channels: &[&str]) -> RedisResult<()> {
        match self {
            Connection::Single(connection) => connection.unsubscribe(channels).await,
            Connection::Cluster(connection) => {
                try_join_all(by_slot(channels).into_values().map(|names| {
                    let mut connection = connection.clone();
                    async move { connection.sunsubscribe(names).await }
                }))
                .await?;
                Ok(())
            }
        }
    }

    /// Waits until `replicas` replicas of the node that holds `key` have every write this
    /// connection made there, up to `timeout`; how many did.
    pub(super) async fn wait_for_replicas(
        &mut self,
        key: &str,
        replicas: usize,
        timeout: Duration,
    ) -> RedisResult<usize> {
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout.as_millis() as u64);
        match self {
            Connection::Single(connection) => wait.query_async(connection).await,
            Connection::Cluster(connection) => {
                let node = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(node));
                let acked = connection.route_command(wait, routing).await?;
                Ok(redis::from_redis_value(acked)?)
            }
        }
    }

    /// Whether one pipeline may name keys of different slots.
    pub(super) fn pipelines_span_slots(&self) -> bool {
        matches!(self, Connection::Single(_))
    }
}

/// `channels` grouped by their slot.
fn by_slot<'a>(channels: &[&'a str]) -> BTreeMap<u16, Vec<&'a str>> {
    let mut groups: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for &channel in channels {
        groups
            .entry(keys::slot(channel.as_bytes()))
            .or_default()
            .push(channel);
    }
    groups
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}
