//! Channel views: routes whose clients receive everything sent to a channel, the seed's
//! `RedisQueueView`.
//!
//! A request goes through the rooms of this folder in turn: the handler here finds the
//! hub, the channel and the client's `Last-Event-ID`; the channel comes from the
//! attribute, a name or a template over path parameters (`source.rs`) or a resolver, an
//! async function that takes extractors and returns the channel or a rejection
//! (`resolver.rs`: the seed's `get_redis_channel`, and the place for authorization);
//! then `stream.rs` writes what the hub's follower gives.

mod resolver;
mod source;
mod stream;

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::channel::ChannelName;
use crate::hub::Hub;
use crate::last_event_id::LastEventId;
use crate::response::{refusal, SseResponse};
use crate::streams::Registration;
use stream::stream_channel;

pub use resolver::{ChannelResolver, ResolvedChannel};
pub use source::{fixed_channel, parse_param, template_channel, ParseParam, Part, Template};
pub use stream::RESET_EVENT;

/// What the attribute of a channel view says, implemented by the view's hidden companion.
pub trait ChannelSource<S>: Clone + Send + Sync + 'static {
    /// The view's name, for logs.
    const VIEW: &'static str;

    /// The response settings the attribute gives, on a response with no frames yet.
    fn options() -> SseResponse<()>;

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
            let registration = match Registration::open(V::VIEW) {
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
                let reason = "the server's event hub is misconfigured; its log says how\n";
                return (StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
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
                    let span = registration.span();
                    span.record("channel", channel.as_str());
                    if let Some(ConnectInfo(client)) =
                        parts.extensions.get::<ConnectInfo<SocketAddr>>()
                    {
                        span.record("client", tracing::field::display(client));
                    }
                    if let Some(last) = &last {
                        span.record("resumed_from", last.as_str());
                    }
                    let options = V::options();
                    stream_channel(registration, hub, channel, last, V::VIEW, options).await
                }
                Err(error) => error.into_response(),
            }
        })
    }
}
