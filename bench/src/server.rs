//! The servers under test, one per configuration, each run as a child process of the
//! benchmark: `sse-bench server <config> <port> [redis-url]`. This crate's
//! configurations are served by `sse_runtime::serve`, the hand-written ones (and
//! `embedded-axum`, for comparison) by `axum::serve`.
//!
//! Every server has the same routes: `GET /events` streams channel `bench`,
//! `GET /users/{id}` streams channel `user:{id}` (a channel per client),
//! `GET /publish?count=N&rate=R&size=B[&channels=C]` starts sending N numbered events
//! (R a second, 0 for as fast as possible) to `bench`, or each to one of the channels
//! `user:0` to `user:{C-1}`, and answers at once, and `GET /burst?count=N` streams N
//! events made by the handler itself (for the generator-view comparison; a stream view
//! under `embedded-stream`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query};
use axum::response::sse::{Event as AxumEvent, KeepAlive, Sse as AxumSse};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{Stream, StreamExt};
use sse_runtime::prelude::*;
use tokio::sync::broadcast;

/// The configurations the benchmark compares.
pub(crate) const CONFIGS: [&str; 9] = [
    "embedded",
    "embedded-stream",
    "embedded-axum",
    "redis",
    "cluster",
    "amqp",
    "naive",
    "hub",
    "plain",
];

/// This crate: a channel view.
#[sse_view("/events", channel = "bench")]
pub(crate) struct Events;

/// This crate: a channel per user.
#[sse_view("/users/{user}", channel = "user:{user}")]
pub(crate) struct Users;

/// This crate: a feed of the shared channel and two of the user's own.
#[sse_view("/feeds/{user}", channels = ["bench", "user:{user}", "dm:{user}"])]
pub(crate) struct Feeds;

/// This crate: a feed of ten channels of the user's own.
#[sse_view(
    "/ten/{user}",
    channels = [
        "t0:{user}", "t1:{user}", "t2:{user}", "t3:{user}", "t4:{user}",
        "t5:{user}", "t6:{user}", "t7:{user}", "t8:{user}", "t9:{user}"
    ]
)]
pub(crate) struct Ten;

/// This crate: a channel per user whose clients hear who comes and goes.
#[sse_view("/present/{user}", channel = "user:{user}", presence = true)]
pub(crate) struct Present;

/// This crate: a generator view that makes `count` events as fast as it can.
#[sse_view("/burst")]
async fn burst(Query(query): Query<HashMap<String, u64>>, sse: &mut Sse) {
    let count = query.get("count").copied().unwrap_or(1000);
    for n in 0..count {
        sse.add_message("tick", &format!("{n} 0"));
        sse.flush().await;
    }
}

/// This crate: the same events from a view that returns a stream (the `stream!` form).
#[sse_view("/burst")]
fn burst_stream(Query(query): Query<HashMap<String, u64>>) -> impl Stream<Item = Event> {
    let count = query.get("count").copied().unwrap_or(1000);
    stream! {
        for n in 0..count {
            yield Event::new().event("tick").data(format!("{n} 0"));
        }
    }
}

/// The data of event `n`: its number and the time it was sent, padded to `size` bytes.
pub(crate) fn payload(n: u64, size: usize) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut data = format!("{n} {}", now.as_nanos());
    if data.len() < size {
        data.push(' ');
        data.extend(std::iter::repeat_n('x', size - data.len()));
    }
    data
}

/// The channel of event `n`: `bench`, or with `channels` user channels, one of them,
/// scattered (Knuth's multiplicative hash) so that consecutive events go to different
/// channels.
pub(crate) fn channel_of(n: u64, channels: u64) -> String {
    match channels {
        0 => "bench".to_owned(),
        _ => format!("user:{}", (n.wrapping_mul(2_654_435_761) >> 7) % channels),
    }
}

/// Sends `count` events at `rate` a second (0: as fast as possible) through `send`,
/// which is given each event's channel and data.
async fn publish<F, Fut>(query: HashMap<String, u64>, send: F)
where
    F: Fn(String, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let count = query.get("count").copied().unwrap_or(1);
    let rate = query.get("rate").copied().unwrap_or(0);
    let size = query.get("size").copied().unwrap_or(64) as usize;
    let channels = query.get("channels").copied().unwrap_or(0);
    let mut ticks = (rate > 0).then(|| {
        let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        interval
    });
    for n in 0..count {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        send(channel_of(n, channels), payload(n, size)).await;
        // An in-process send waits on nothing: let the clients' tasks run between sends,
        // as they would between requests of a real application.
        tokio::task::yield_now().await;
    }
}

/// A hand-written axum stream of `count` events: the baseline of the generator view.
async fn plain_burst(
    Query(query): Query<HashMap<String, u64>>,
) -> AxumSse<impl Stream<Item = Result<AxumEvent, Infallible>>> {
    let count = query.get("count").copied().unwrap_or(1000);
    let events = futures_util::stream::iter(0..count)
        .map(|n| Ok(AxumEvent::default().event("tick").data(format!("{n} 0"))));
    AxumSse::new(events).keep_alive(KeepAlive::default())
}

fn redis_client(url: &str) -> redis::Client {
    redis::Client::open(url).expect("a Redis URL")
}

/// The app of `config`.
pub(crate) async fn app(config: &str, redis_url: &str) -> Router {
    match config {
        "embedded" | "embedded-stream" | "embedded-axum" | "redis" | "cluster" | "amqp"
        | "plain" | "tls" | "tls-axum" => {
            let hub = match config {
                "redis" => Hub::redis(redis_url).expect("a Redis URL"),
                // The cluster's seed nodes, separated by commas.
                "cluster" => Hub::redis_cluster(redis_url.split(',')).expect("Redis URLs"),
                "amqp" => Hub::builder()
                    .amqp_url(redis_url)
                    .build()
                    .expect("an AMQP URL"),
                _ => Hub::embedded(),
            };
            let sender = hub.clone();
            let publish_route = get(move |Query(query): Query<HashMap<String, u64>>| {
                let hub = sender.clone();
                async move {
                    tokio::spawn(publish(query, move |channel, data| {
                        let hub = hub.clone();
                        async move {
                            let _ = hub.send_event("tick", data, &channel).await;
                        }
                    }));
                    "started"
                }
            });
            let app: Router = match config {
                "plain" => Router::new().route("/burst", get(plain_burst)),
                "embedded-stream" => sse_routes![Events, Users, burst_stream],
                _ => sse_routes![Events, Users, Feeds, Ten, Present, burst],
            };
            app.route("/publish", publish_route).layer(Extension(hub))
        }
        "naive" | "hub" => {
            let client = redis_client(redis_url);
            let connection = client
                .get_multiplexed_async_connection()
                .await
                .expect("Redis is up");
            let publish_route = get(move |Query(query): Query<HashMap<String, u64>>| {
                let connection = connection.clone();
                async move {
                    tokio::spawn(publish(query, move |channel, data| {
                        let mut connection = connection.clone();
                        async move {
                            let _: Result<i64, _> = redis::cmd("PUBLISH")
                                .arg(channel)
                                .arg(data)
                                .query_async(&mut connection)
                                .await;
                        }
                    }));
                    "started"
                }
            });
            let (events, users) = if config == "naive" {
                let for_users = client.clone();
                (
                    get(move || naive_events(client.clone(), "bench".to_owned())),
                    get(move |Path(user): Path<String>| {
                        naive_events(for_users.clone(), format!("user:{user}"))
                    }),
                )
            } else {
                let (sender, users) = shared_subscriber(client).await;
                (
                    get(move || hub_events(sender.subscribe(), None)),
                    get(move |Path(user): Path<String>| {
                        let users = users.clone();
                        async move {
                            let channel = format!("user:{user}");
                            let receiver = users.subscribe(&channel);
                            hub_events(receiver, Some((users, channel))).await
                        }
                    }),
                )
            };
            Router::new()
                .route("/events", events)
                .route("/users/{user}", users)
                .route("/publish", publish_route)
        }
        other => panic!("unknown configuration {other}; known: {CONFIGS:?}"),
    }
}

/// The seed's design: every connection opens its own Redis subscription.
async fn naive_events(
    client: redis::Client,
    channel: String,
) -> AxumSse<impl Stream<Item = Result<AxumEvent, Infallible>>> {
    let mut pubsub = client.get_async_pubsub().await.expect("Redis is up");
    pubsub.subscribe(channel).await.expect("subscribed");
    let events = pubsub.into_on_message().map(|message| {
        let data: String = message.get_payload().unwrap_or_default();
        Ok(AxumEvent::default().event("tick").data(data))
    });
    AxumSse::new(events).keep_alive(KeepAlive::default())
}

/// The careful hand-written design: one subscriber for the process, a broadcast of the
/// payloads per channel, each client encoding its own events. `bench` has a broadcast
/// of 1,024 slots; each user channel one of 16, made when its first client comes and
/// dropped when its last leaves (a careful user sizes per-user queues small), all
/// reached through one pattern subscription, `user:*`.
async fn shared_subscriber(client: redis::Client) -> (broadcast::Sender<String>, UserChannels) {
    let (sender, _) = broadcast::channel(1024);
    let users = UserChannels::default();
    let mut pubsub = client.get_async_pubsub().await.expect("Redis is up");
    pubsub.subscribe("bench").await.expect("subscribed");
    pubsub.psubscribe("user:*").await.expect("subscribed");
    let fanout = sender.clone();
    let to_users = users.clone();
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let payload: String = message.get_payload().unwrap_or_default();
            match message.get_channel_name() {
                "bench" => {
                    let _ = fanout.send(payload);
                }
                user => to_users.send(user, payload),
            }
        }
    });
    (sender, users)
}

/// The user channels of the `hub` baseline: a broadcast per channel with listeners.
#[derive(Clone, Default)]
pub(crate) struct UserChannels(Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>);

impl UserChannels {
    fn subscribe(&self, channel: &str) -> broadcast::Receiver<String> {
        let mut channels = self.0.lock().unwrap();
        channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    fn send(&self, channel: &str, payload: String) {
        if let Some(sender) = self.0.lock().unwrap().get(channel) {
            let _ = sender.send(payload);
        }
    }

    /// A listener of `channel` left: forget the channel if it was the last.
    fn leave(&self, channel: &str) {
        let mut channels = self.0.lock().unwrap();
        if channels
            .get(channel)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            channels.remove(channel);
        }
    }
}

/// A client of a user channel: leaves it when dropped, after its receiver.
struct Leaving {
    receiver: Option<broadcast::Receiver<String>>,
    users: Option<(UserChannels, String)>,
}

impl Drop for Leaving {
    fn drop(&mut self) {
        drop(self.receiver.take());
        if let Some((users, channel)) = self.users.take() {
            users.leave(&channel);
        }
    }
}

async fn hub_events(
    receiver: broadcast::Receiver<String>,
    users: Option<(UserChannels, String)>,
) -> AxumSse<impl Stream<Item = Result<AxumEvent, Infallible>>> {
    let client = Leaving {
        receiver: Some(receiver),
        users,
    };
    let events = futures_util::stream::unfold(client, |mut client| async move {
        let receiver = client.receiver.as_mut()?;
        loop {
            match receiver.recv().await {
                Ok(data) => {
                    return Some((Ok(AxumEvent::default().event("tick").data(data)), client))
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    AxumSse::new(events).keep_alive(KeepAlive::default())
}

/// `sse-bench server <config> <port> [redis-url]`.
pub(crate) async fn run(args: &[String]) {
    let config = args.first().expect("a configuration");
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).expect("a port");
    let redis_url = args.get(2).cloned().unwrap_or_default();
    let app = app(config, &redis_url).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!("ready");
    // This crate's configurations run as its users are advised to; `embedded-axum` is
    // the same app under `axum::serve`, like the hand-written baselines.
    match config.as_str() {
        "embedded" | "embedded-stream" | "redis" | "cluster" | "amqp" => {
            sse_runtime::serve(listener, app).await.expect("serve")
        }
        "tls" => crate::tls::serve_ours(listener, app).await,
        "tls-axum" => crate::tls::serve_axum(listener, app).await,
        _ => axum::serve(listener, app).await.expect("serve"),
    }
}
