//! Channel views: routes whose clients receive everything sent to a channel, the seed's
//! `RedisQueueView`.
//!
//! The channel comes from the attribute: a name, a template over path parameters
//! (`"room:{room}"`), or a resolver, an async function that takes extractors and returns
//! the channel or a rejection (the seed's `get_redis_channel`, and the place for
//! authorization).

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::{FromRequestParts, Path, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::channel::ChannelName;
use crate::event::Event;
use crate::generator::Generator;
use crate::hub::{Hub, Start};
use crate::last_event_id::LastEventId;
use crate::private::Options;
use crate::response::{refusal, SseResponse};
use crate::streams::Registration;

/// What the attribute of a channel view says, implemented by the view's hidden companion.
pub trait ChannelSource<S>: Clone + Send + Sync + 'static {
    /// The view's name, for logs.
    const VIEW: &'static str;

    /// The response settings the attribute gives.
    fn options() -> Options;

    /// The channel of this request, or the response that refuses it.
    fn channel(
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<String, Response>> + Send;
}

/// The handler of a channel view `V`.
#[derive(Debug)]
pub struct ChannelRoute<V>(PhantomData<fn() -> V>);

impl<V> ChannelRoute<V> {
    /// The handler.
    pub fn new() -> Self {
        ChannelRoute(PhantomData)
    }
}

impl<V> Default for ChannelRoute<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Clone for ChannelRoute<V> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<V, S> Handler<((),), S> for ChannelRoute<V>
where
    V: ChannelSource<S>,
    S: Clone + Send + Sync + 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: S) -> Self::Future {
        Box::pin(async move {
            // Before anything a refusal would waste: a subscription, a history read.
            let registration = match Registration::open() {
                Ok(registration) => registration,
                Err(refused) => return refusal(refused),
            };
            let (mut parts, _) = request.into_parts();
            let hub = match parts.extensions.get::<Hub>() {
                Some(hub) => hub.clone(),
                None => Hub::global().clone(),
            };
            if let Err(error) = hub.check() {
                tracing::error!(view = V::VIEW, %error, "the channel view cannot stream");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            let name = match V::channel(&mut parts, &state).await {
                Ok(name) => name,
                Err(refusal) => return refusal,
            };
            let channel = match ChannelName::new(&name) {
                Ok(channel) => channel,
                Err(error) => return error.into_response(),
            };
            match LastEventId::from_request_parts(&mut parts, &state).await {
                Ok(LastEventId(last)) => {
                    let options = V::options();
                    stream_channel(registration, hub, channel, last, V::VIEW, options).await
                }
                Err(error) => error.into_response(),
            }
        })
    }
}

/// The event a client gets when it resumes from an id the history does not hold: it
/// must reload whatever it built from the events, then it gets the live stream.
pub const RESET_EVENT: &str = "sse-reset";

/// Streams `channel` to one client: what it missed since `last_event_id`, then every
/// event sent to it, each once and in order. The hub decides what comes; this batches
/// and writes.
async fn stream_channel(
    registration: Registration,
    hub: Hub,
    channel: ChannelName,
    last_event_id: Option<String>,
    view: &'static str,
    options: Options,
) -> Response {
    let mut follow = hub.follow(channel, last_event_id.as_deref()).await;
    let frames = Generator::new(view, move |mut sse| async move {
        match follow.take_start() {
            Start::Live | Start::Resumed => {}
            Start::Reset(last) => {
                let reset = Event::new().event(RESET_EVENT).data(format!(
                    "the events after {last:.64} are no longer kept: reload, then follow the live stream"
                ));
                sse.send(&reset).await;
            }
            Start::Unavailable(error) => {
                // Ending the stream makes the client reconnect and ask again.
                tracing::warn!(view, %error, "cannot read the history a client resumes from");
                return;
            }
        }
        let mut batch = Vec::with_capacity(1);
        // Until when the stream counts as busy: `BUSY` after its last write.
        let mut busy_until = Instant::now();
        loop {
            batch.clear();
            if let Err(gone) = follow.next(&mut batch, BATCH).await {
                tracing::debug!(view, %gone, "a channel stream ended; the client resumes from its last id");
                return;
            }
            // A busy stream lets the scheduler go round a few times before it writes,
            // so that a burst goes out in one write rather than a system call per event.
            let now = Instant::now();
            if now < busy_until {
                for _ in 0..GATHER_ROUNDS {
                    if batch.len() + follow.queued() >= BATCH {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                let room = BATCH - batch.len();
                if let Err(gone) = follow.try_more(&mut batch, room) {
                    tracing::debug!(view, %gone, "a channel stream ended; the client resumes from its last id");
                    return;
                }
            }
            busy_until = now + BUSY;
            match &batch[..] {
                // A lone event goes out without a copy.
                [one] => sse.send_encoded(one.bytes.clone()).await,
                frames => {
                    for frame in frames {
                        sse.add_encoded(&frame.bytes);
                    }
                    sse.flush().await;
                }
            }
            // An idle stream keeps no room for a burst.
            if batch.capacity() > BATCH {
                batch = Vec::with_capacity(1);
            }
        }
    });
    options
        .apply(SseResponse::new(frames))
        .into_registered_response(registration)
}

/// The most events written together when a client has several queued.
const BATCH: usize = 64;

/// A stream that wrote less than this long ago is busy: before its next write it
/// yields to the scheduler up to `GATHER_ROUNDS` times (fewer if `BATCH` events are
/// queued), letting the senders run, so that a burst goes out in a few writes. A stream
/// idle for longer writes its next event at once. (Yielding rather than sleeping: a
/// timer's millisecond would let a fast sender fill the queue.)
const BUSY: Duration = Duration::from_millis(1);
const GATHER_ROUNDS: usize = 8;

/// `channel = "foo"`.
pub fn fixed_channel(name: &'static str) -> impl Future<Output = Result<String, Response>> + Send {
    std::future::ready(Ok(name.to_owned()))
}

/// `channel = "room:{room}"`: the template with each `{name}` replaced by the path
/// parameter of that name.
pub async fn template_channel<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    template: &'static str,
) -> Result<String, Response> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let mut channel = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map_or(rest.len(), |close| open + close);
        channel.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        let value = params.get(name).ok_or_else(|| {
            // The macro checks every name against the path, so this is a route mounted
            // by hand at a path without the parameter.
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the path has no parameter `{name}`"),
            )
                .into_response()
        })?;
        channel.push_str(value);
        rest = &rest[(close + 1).min(rest.len())..];
    }
    channel.push_str(rest);
    Ok(channel)
}

/// `channel = resolver`: calls the resolver with its extractors.
pub async fn resolved_channel<F, T, S>(
    resolver: F,
    parts: &mut Parts,
    state: &S,
) -> Result<String, Response>
where
    F: ChannelResolver<T, S>,
{
    resolver.resolve(parts, state).await
}

/// What a channel resolver may return: the channel, or a refusal.
pub trait ResolvedChannel {
    /// The channel, or the response that refuses the request.
    #[allow(clippy::result_large_err)] // a rejection is a response, as in axum
    fn into_channel(self) -> Result<String, Response>;
}

impl ResolvedChannel for String {
    fn into_channel(self) -> Result<String, Response> {
        Ok(self)
    }
}

impl ResolvedChannel for &'static str {
    fn into_channel(self) -> Result<String, Response> {
        Ok(self.to_owned())
    }
}

impl ResolvedChannel for ChannelName {
    fn into_channel(self) -> Result<String, Response> {
        Ok(self.as_str().to_owned())
    }
}

/// `None` answers `404 Not Found`.
impl<C: ResolvedChannel> ResolvedChannel for Option<C> {
    fn into_channel(self) -> Result<String, Response> {
        self.ok_or_else(|| StatusCode::NOT_FOUND.into_response())?
            .into_channel()
    }
}

/// `Err(rejection)` answers with the rejection, such as `StatusCode::FORBIDDEN`.
impl<C: ResolvedChannel, E: IntoResponse> ResolvedChannel for Result<C, E> {
    fn into_channel(self) -> Result<String, Response> {
        self.map_err(IntoResponse::into_response)?.into_channel()
    }
}

/// An async function that finds the channel of a request from its extractors.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a channel resolver: an `async fn` whose arguments are extractors and that returns a channel name, `Option` of one, or `Result` of one and a rejection",
    note = "a resolver that takes `State<T>` needs `state = T` in the `#[sse_view]` attribute"
)]
pub trait ChannelResolver<T, S>: Send + Sync {
    /// Runs the resolver on a request.
    fn resolve(
        self,
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<String, Response>> + Send;
}

macro_rules! resolver_taking {
    ($($arg:ident),*) => {
        impl<F, Fut, R, S, $($arg,)*> ChannelResolver<($($arg,)*), S> for F
        where
            F: FnOnce($($arg),*) -> Fut + Send + Sync,
            Fut: Future<Output = R> + Send,
            R: ResolvedChannel,
            S: Send + Sync,
            $($arg: FromRequestParts<S> + Send,)*
        {
            #[allow(non_snake_case, unused_variables)]
            async fn resolve(self, parts: &mut Parts, state: &S) -> Result<String, Response> {
                $(
                    let $arg = $arg::from_request_parts(parts, state)
                        .await
                        .map_err(IntoResponse::into_response)?;
                )*
                self($($arg),*).await.into_channel()
            }
        }
    };
}

resolver_taking!();
resolver_taking!(T1);
resolver_taking!(T1, T2);
resolver_taking!(T1, T2, T3);
resolver_taking!(T1, T2, T3, T4);
resolver_taking!(T1, T2, T3, T4, T5);
resolver_taking!(T1, T2, T3, T4, T5, T6);
