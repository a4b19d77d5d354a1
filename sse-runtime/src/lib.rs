//! Server-Sent Events views for axum, declared with one attribute.
//!
//! This crate carries the ideas of the Python package django-sse 0.4.1 over to axum: a
//! view is a function whose body buffers messages and flushes them to its client, and
//! one macro mounts every view of an application. Where django-sse held a thread per
//! client, a stream here is a small future polled by the connection that carries it.
//!
//! # A complete program
//!
//! The seed's first example, the current timestamp every second:
//!
//! ```no_run
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use sse_runtime::prelude::*;
//!
//! #[sse_view("/time")]
//! async fn time(sse: &mut Sse) {
//!     loop {
//!         let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
//!         sse.add_message("time", &now.as_secs().to_string());
//!         sse.flush().await; // the seed's `yield`: what is buffered goes out now
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app: axum::Router = sse_routes![time];
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     sse_runtime::serve(listener, app).await
//! }
//! ```
//!
//! # Generator views
//!
//! `#[sse_view("/path")]` goes on an `async fn`. Its arguments are any axum extractors
//! (`Path`, `Query`, `State`, `HeaderMap`, [`LastEventId`], your own), in any order, and
//! at most one `&mut Sse`: the [`Sse`] buffer. [`Sse::add_message`] and
//! [`Sse::add_event`] buffer events; [`Sse::flush`] sends everything buffered as one
//! write and resumes once the response has taken it. What is still buffered when the body
//! returns goes out too, and then the response ends.
//!
//! The function stays an ordinary axum handler: `get(time)` mounts it by hand, and a test
//! can call `time().await` and read the response.
//!
//! A body may return `Result<(), E>` with `E: Display` and use `?`: an error ends the
//! stream and is logged with `tracing` at the error level, naming the view.
//!
//! When the client goes away, hyper drops the response and with it the body, at the
//! `.await` it was waiting on: nothing keeps running for a gone client.
//!
//! The attribute takes, after the optional path:
//!
//! | argument | meaning |
//! |---|---|
//! | `keep_alive = Duration` | the silence after which a keep-alive comment goes out (default 15 s; see [`KeepAlive`]) |
//! | `retry = Duration` | a `retry:` field sent before any event: how long a browser waits to reconnect |
//! | `state = Type` | the router state extractors are checked against, when no `State<Type>` argument names it |
//!
//! ## Why `.flush().await` and not `yield`
//!
//! django-sse flushed at each `yield` of a generator. Stable Rust has no generators in
//! async functions, and the usual workaround (a macro that rewrites a placeholder into
//! `yield` inside `async_stream::stream!`) rewrites the body's tokens: `?` and `return`
//! then mean something else, and a helper function cannot flush. Here the response polls
//! the body's future itself and takes each flushed frame as the body waits on
//! `flush().await`. The body is compiled as written: `?`, `return`, `tokio::select!` and
//! `async fn` helpers that take `&mut Sse` all work, and there is no `unsafe` anywhere.
//!
//! ## The other form: a view that returns a stream
//!
//! A function under `#[sse_view]` may instead return `impl Stream<Item = Event>` (or of
//! `Result<Event, E>`, whose `Err` ends the stream and is logged), written with `yield`
//! inside [`stream!`]: each item is an event. It takes the same extractors and the same
//! `keep_alive` and `retry`, and may be an `async fn` that awaits before it returns its
//! stream. Prefer the buffer when several events should go out in one write, when
//! helpers add events, or to [`Sse::finish`]; prefer a stream when each step makes one
//! event or when a `Stream` is what you already have.
//!
//! # Metrics
//!
//! The crate reports what it does through the [`metrics`](https://docs.rs/metrics)
//! facade. Nothing is recorded unless the application installs a recorder (e.g.
//! `metrics-exporter-prometheus`, as the `chat` example does at `GET /metrics`); without
//! one each report costs a load of the global recorder and nothing else. Install it
//! before serving.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `sse_streams_open` | gauge | `view` | streams open now (`sse_response` for a hand-made `SseResponse`) |
//! | `sse_streams_refused_total` | counter | `reason`: `limit`, `shutdown` | streams answered `503` |
//! | `sse_events_delivered_total` | counter | | events handed to clients' responses (one per client an event reaches; bytes a view adds with `Sse::add_encoded` are not counted, having no event count) |
//! | `sse_clients_cut_off_total` | counter | | clients of a channel that fell more than their queue behind |
//! | `sse_resumes_total` | counter | `outcome`: `history`, `reset` | reconnections with a `Last-Event-ID`: served from history, or told to reset |
//! | `sse_broker_connected` | gauge | | Redis hub: 1 while its subscriber is connected, 0 while it reconnects |
//! | `sse_broker_reconnects_total` | counter | | Redis hub: times its subscriber was lost |
//! | `sse_send_errors_total` | counter | `kind`: `redis`, `outcome_unknown`, `too_large`, `bad_channel`, `line_break`, `json`, `config`, `other` | sends that failed |
//!
//! # Mounting views
//!
//! `sse_routes![a, b, module::c, "/path" => d]` builds an `axum::Router<S>` with each view
//! at its path, ready to `merge`, `nest`, layer and give state to as any router. A view
//! whose attribute names no path (`#[sse_view]`) gets it where it is mounted. A view with
//! no path anywhere, or with two different paths, fails to compile, as does a malformed
//! path such as axum 0.7's `/:id` (axum 0.8 writes `/{id}`).
//!
//! # Channel views
//!
//! `#[sse_view("/path", channel = ...)]` on a unit struct declares a route whose clients
//! receive everything sent to a channel: no body to write. The channel is a name, a
//! template over path parameters (`"room:{room}"`, each `{name}` checked against the
//! path at compile time), or a resolver: an async function whose arguments are
//! extractors and which returns the channel (`String`), `Option` of one (`None` answers
//! 404) or `Result` of one and a rejection (`Err(StatusCode::FORBIDDEN)` answers 403).
//! A resolver that takes `State<T>` needs `state = T` in the attribute.
//!
//! A channel name that comes from a request is checked before any broker sees it: at
//! most [`MAX_CHANNEL_LEN`] bytes, no control characters or white space, no Redis
//! pattern characters (`*?[]`), no `/` or `\`. A bad one is answered with
//! `400 Bad Request` and a plain reason.
//!
//! Events are sent with [`send_event`] from anywhere, or with the methods of a [`Hub`]
//! (which can be put in axum state, or given to a router as `axum::Extension(hub)` so
//! that its channel views use it instead of the process's). Both return an error when
//! the event cannot be sent, as when Redis is down: nothing is lost silently.
//!
//! # The hub and its brokers
//!
//! Each process has one [`Hub`]. With nothing configured it is embedded: events reach
//! the clients of this process. With `SSE_REDIS_URL` set (`redis://127.0.0.1:6379/0`), or
//! a URL given to [`Hub::builder`], it shares channels through Redis with every process
//! on that server (Redis 6 or later), over two connections for the whole process: one
//! subscribes to a channel when the channel gets its first local listener and
//! unsubscribes when its last one leaves, the other sends and reads history. Each event
//! is decoded and encoded once per process; every client of the channel is sent the
//! same bytes, queued only until each has taken them.
//!
//! ## What other programs publish
//!
//! A payload on a Redis channel is either plain UTF-8 text, which arrives as the data of
//! an event named `message` (`redis-cli PUBLISH foo hello`), or a JSON envelope,
//! recognised by its `"$sse"` key, that sets the other fields:
//!
//! ```json
//! {"$sse": 1, "event": "myevent", "data": "mydata", "retry": 3000}
//! ```
//!
//! Every key but `"$sse"` is optional. Ids belong to the hub: an `"id"` key is not
//! sent, so what other programs publish never moves a client's `Last-Event-ID` away
//! from ids the hub can resume from (`"$id"` is reserved for the hub's own envelopes).
//! An envelope whose event name holds a line break, a payload that is not UTF-8, or one
//! larger than [`HubBuilder::max_event`], is logged and skipped; the stream goes on.
//!
//! # Resuming, faults and limits
//!
//! Every event sent through a hub gets an id (`<ms>-<seq>`, as Redis stream ids), and
//! each channel keeps a bounded history ([`HubBuilder::history`], 1,000 events by
//! default): a client that reconnects with `Last-Event-ID` gets what it missed, then the
//! live stream, with no gap and no duplicate; an id the history does not hold gets an
//! event named [`RESET_EVENT`], then the live stream. A client that falls more than its
//! queue behind ([`HubBuilder::client_queue`]) is cut off and resumes when it
//! reconnects. History is read in pages as the client takes it, and bounded in bytes
//! too ([`HubBuilder::history_bytes`]); an event over [`HubBuilder::max_event`] is
//! refused with [`Error::TooLarge`]. When Redis goes away, streams stay open and the hub
//! reconnects, resubscribes and fills the gap from history; sending meanwhile fails with
//! [`Error::Redis`], or with [`Error::OutcomeUnknown`] if Redis took the send and did
//! not answer: [`Hub::send_idempotent`] retries it without a duplicate.
//!
//! [`shutdown`] ends every stream of the process, so that
//! `axum::serve(..).with_graceful_shutdown(..)` returns; [`serve`] does it itself, and
//! bounds the wait ([`Serve::drain_timeout`]); [`shutdown_signal`] waits for Ctrl-C or
//! SIGTERM. [`set_max_streams`] answers `503` with `Retry-After` beyond a limit. The README's "Delivery guarantees" lists each
//! promise with the test that checks it.
//!
//! # The seed, side by side
//!
//! | django-sse 0.4.1 | sse-runtime |
//! |---|---|
//! | `class MySseStreamView(BaseSseView):`<br>`def iterator(self):`<br>`while True:`<br>`self.sse.add_message("time", str(time.time()))`<br>`yield`<br>`time.sleep(1)` | `#[sse_view("/time")]`<br>`async fn time(sse: &mut Sse) {`<br>`loop {`<br>`sse.add_message("time", &now());`<br>`sse.flush().await;`<br>`sleep(Duration::from_secs(1)).await; } }` |
//! | `url(r'^stream1/$', RedisQueueView.as_view(redis_channel="foo"))` | `#[sse_view("/stream1/", channel = "foo")]`<br>`pub struct Stream1;` |
//! | `send_event("myevent", "mydata", channel="foo")` | `send_event("myevent", "mydata", "foo").await?;` |
//! | `class MyRedisQueueView(RedisQueueView):`<br>`def get_redis_channel(self):`<br>`return self.kwargs['channel'] or self.redis_channel` | `#[sse_view("/sse/{channel}/", channel = "{channel}")]`<br>`pub struct MyRedisQueueView;`<br>(or `channel = resolver` for anything else) |
//! | `REDIS_SSEQUEUE_CONNECTION_SETTINGS = {'location': 'localhost:6379', 'db': 0}` | `SSE_REDIS_URL=redis://localhost:6379/0`, or [`Hub::builder`] |
//!
//! The `examples` package runs each of them: `time`, `redis_queue`, `dynamic_channel`,
//! and `chat`, a room in a web page.
//!
//! # Serving
//!
//! [`serve`] and [`serve_with_shutdown`] serve an app over HTTP/1.1 the way an app of
//! streams wants: a GET (every `EventSource` request) is answered by a writer that holds
//! no buffer while the stream is open, so an idle stream costs a few KB instead of
//! hyper's 16 KiB of buffers; any other request goes to hyper's HTTP/1 server, which
//! serves the rest of that connection. `TCP_NODELAY` is on, and the graceful shutdown
//! ends the streams before it waits for the connections. `axum::serve` serves every view
//! of this crate too, HTTP/2 included. `BENCHMARKS.md` has the figures.
//!
//! # Without the macros
//!
//! [`Event`] encodes one event by the rules of the WHATWG HTML standard, and
//! [`SseResponse`] turns any stream of encoded events into a response with the right
//! headers and keep-alive, for handlers written by hand.
#![forbid(unsafe_code)]

mod buffer;
mod channel;
mod channel_view;
mod error;
mod event;
mod finished;
mod generator;
mod hub;
mod keep_alive;
mod last_event_id;
mod response;
mod serve;
mod stream_view;
mod streams;
mod telemetry;
mod typed_channel;
mod typed_event;
mod yielder;

pub use buffer::{Flush, Sse};
pub use channel::{ChannelName, MAX_CHANNEL_LEN};
pub use channel_view::{ChannelResolver, Channels, ResolvedChannel, RESET_EVENT};
pub use error::{Error, Field};
pub use event::Event;
pub use finished::{refuse_finished, FINISHED_ID};
pub use generator::ViewResponse;
pub use hub::{
    send_event, Hub, HubBuilder, AMQP_STREAM_VAR, AMQP_URL_VAR, DEFAULT_AMQP_HISTORY_BYTES,
    DEFAULT_AMQP_STREAM, DEFAULT_CLIENT_QUEUE, DEFAULT_EMBEDDED_HISTORY_BYTES, DEFAULT_HISTORY,
    DEFAULT_HISTORY_CHANNELS, DEFAULT_HISTORY_TTL, DEFAULT_MAX_EVENT, DEFAULT_REDIS_HISTORY_BYTES,
    DEFAULT_REDIS_TIMEOUT, DEFAULT_STREAM_CHANNELS, PRESENCE_EVENT, REDIS_CLUSTER_VAR,
    REDIS_DB_VAR, REDIS_URL_VAR,
};
pub use keep_alive::KeepAlive;
pub use last_event_id::{LastEventId, MAX_LAST_EVENT_ID_LEN};
pub use response::SseResponse;
#[cfg(feature = "tls")]
pub use serve::TlsConfig;
pub use serve::{
    listen, serve, serve_with_shutdown, shutdown_signal, Serve, WithGracefulShutdown,
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_HEAD,
    DEFAULT_WRITE_TIMEOUT, LISTEN_BACKLOG,
};
/// Turns an `async fn` into a streaming route (a generator view), or a unit struct into
/// the route of a channel (a channel view).
///
/// # Generator views
///
/// On an `async fn` whose arguments are axum extractors, in any order, and at most one
/// `sse: &mut Sse`, the buffer. The body buffers events ([`Sse::add_message`],
/// [`Sse::add_event`]) and sends them with `sse.flush().await`; what is left buffered
/// when it returns goes out too, then the stream ends. It returns `()` or
/// `Result<(), E>` with `E: Display` (an `Err` ends the stream and is logged).
///
/// The function keeps its name and arguments and returns a [`ViewResponse`], a future of
/// the `Response`: it is still an axum handler (`get(count)`), and `count(..).await`
/// is the response. The type is how `sse_routes!` tells a view from a plain handler.
///
/// ```
/// use std::time::Duration;
/// use axum::extract::Path;
/// use sse_runtime::prelude::*;
///
/// #[sse_view("/count/{from}", retry = Duration::from_secs(1), keep_alive = Duration::from_secs(30))]
/// async fn count(Path(from): Path<u64>, last: LastEventId, sse: &mut Sse) {
///     let mut n = last.parse::<u64>().map_or(from, |last| last + 1);
///     loop {
///         sse.send(&Event::new().id(n.to_string()).data(n.to_string())).await;
///         n += 1;
///         tokio::time::sleep(Duration::from_secs(1)).await;
///     }
/// }
/// # let _: axum::Router = sse_routes![count];
/// ```
///
/// The function stays an ordinary axum handler: `get(count)` mounts it by hand.
///
/// # Channel views
///
/// On a unit struct, with `channel = ...`: its clients receive every event sent to the
/// channel, resume with `Last-Event-ID`, and need no body. The channel is
///
/// - a name: `channel = "news"`;
/// - a template over the path's parameters: `channel = "room:{room}"`, each `{name}`
///   checked against the path at compile time;
/// - a resolver: `channel = my_resolver`, an `async fn` whose arguments are extractors
///   and which returns the channel (`String`, `&'static str`, [`ChannelName`]), an
///   `Option` of one (`None` answers `404`) or a `Result` of one and a rejection (`Err`
///   answers with it: the place for authorization). A resolver that takes `State<T>`
///   needs `state = T`.
///
/// ```
/// use axum::extract::Path;
/// use axum::http::StatusCode;
/// use sse_runtime::prelude::*;
///
/// #[sse_view("/news", channel = "news")]
/// pub struct News;
///
/// #[sse_view("/rooms/{room}", channel = "room:{room}")]
/// pub struct Room;
///
/// #[sse_view("/private/{id}", channel = private_channel)]
/// pub struct Private;
///
/// async fn private_channel(Path(id): Path<u32>) -> Result<String, StatusCode> {
///     if id == 0 { Err(StatusCode::FORBIDDEN) } else { Ok(format!("private:{id}")) }
/// }
/// # let _: axum::Router = sse_routes![News, Room, Private];
/// ```
///
/// A channel name, written or resolved, follows one rule: 1 to 256 bytes, no control
/// characters or white space, none of `*?[]` (Redis patterns), no `/` or `\`. A name or
/// template in the attribute that breaks it is a compile error; one from a request is
/// answered with `400` and the reason.
///
/// # Arguments
///
/// | argument | for | meaning |
/// |---|---|---|
/// | `"/path"` (first) | both | the route path, axum 0.8 style (`/rooms/{room}`); or give it where the view is mounted |
/// | `channel = "name"`, `"tmpl:{p}"` or `resolver` | channel views | where the events come from |
/// | `state = Type` | both | the router state the extractors (or the resolver) are checked against, when no `State<Type>` argument names it |
/// | `keep_alive = Duration` | both | the silence after which a keep-alive comment goes out (default 15 s) |
/// | `retry = Duration` | both | a `retry:` field sent first: how long a browser waits before it reconnects |
/// | `crate = path` | both | where this crate is, for a crate that re-exports it (`crate = my_app::sse`) |
///
/// # Errors
///
/// Each mistake is reported at the token that shows it, all in one build: a function
/// that is not `async`, generic, takes `self`, takes the buffer as `Sse` or `&Sse` or
/// twice, returns `impl Trait`, or takes an argument that is no extractor (`id: u32`:
/// write `Path(id): Path<u32>`); a struct without `channel`, with fields or generics; a
/// `channel` on a function; a path or channel template with unbalanced braces or an
/// axum 0.7 `:param`; a template parameter the path does not have; a channel name that
/// breaks the rule; an unknown or repeated argument (with a "did you mean"). The
/// `ui-tests` folder holds each case with the exact message.
pub use sse_macros::sse_view;
/// Derives [`SseEvent`](trait@SseEvent): see the trait.
pub use sse_macros::SseEvent;
pub use stream_view::StreamItem;
/// The rustls this crate serves TLS with (feature `tls`), for a `ServerConfig` of the
/// app's own: [`TlsConfig::from_config`].
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
pub use typed_channel::TypedChannel;
pub use typed_event::SseEvent;
pub use yielder::Yielded;

/// Builds an `axum::Router<S>` of views: `sse_routes![a, b, module::c, "/path" => d]`.
///
/// Each view is mounted at the path its attribute gives, or at the one written before
/// `=>`; a view with no path anywhere, or with two different ones, is a compile error,
/// and so is a channel template whose parameter the path lacks. The router is an
/// ordinary one: `merge`, `nest`, `layer` and `with_state` it as any other.
///
/// ```
/// use axum::routing::post;
/// use sse_runtime::prelude::*;
///
/// #[sse_view("/time")]
/// async fn time(sse: &mut Sse) {
///     sse.add_message("time", "now");
/// }
///
/// #[sse_view(channel = "news")]
/// pub struct News;
///
/// async fn publish() -> &'static str { "sent" }
///
/// let app: axum::Router = sse_routes![time, "/news" => News]
///     // handlers that are not views are mounted as axum mounts them
///     .route("/publish", post(publish));
/// ```
///
/// Only `#[sse_view]` items go in the list: a plain handler is a compile error that says
/// so; mount it with `.route(path, get(handler))`.
#[macro_export]
macro_rules! sse_routes {
    ($($views:tt)*) => {
        $crate::__private::sse_routes!(crate = $crate; $($views)*)
    };
}
pub use streams::{open_streams, set_max_streams, shutdown};

/// A [`Stream`] written as an async block with `yield`: the form of view that returns
/// `impl Stream<Item = Event>`.
///
/// ```
/// use std::time::Duration;
/// use sse_runtime::prelude::*;
///
/// #[sse_view("/countdown")]
/// fn countdown() -> impl Stream<Item = Event> {
///     stream! {
///         for n in (0..3).rev() {
///             yield Event::new().data(n.to_string());
///             tokio::time::sleep(Duration::from_millis(10)).await;
///         }
///     }
/// }
/// # let _: axum::Router = sse_routes![countdown];
/// ```
///
/// Each `yield value` hands `value` to the stream and pauses the block until the stream is
/// polled again; the stream ends when the block does. The block runs only while the
/// stream is polled: no task, no channel, nothing left running once it is dropped. It
/// does what `async_stream::stream!` does, written here because that crate's macro
/// brings a second major version of `syn` into the tree. A `yield` must be in the block
/// itself, not in a closure or an `async` block inside it, nor in another macro's
/// arguments (`tokio::select!`): bind the value there and yield it after.
#[macro_export]
macro_rules! stream {
    ($($block:tt)*) => {
        $crate::__private::stream!(crate = $crate; $($block)*)
    };
}

pub use futures_core::Stream;

/// The names a view module needs: `use sse_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        send_event, sse_routes, sse_view, stream, Channels, Event, Hub, LastEventId, Sse, SseEvent,
        Stream,
    };
}

#[doc(hidden)]
pub mod __private;
