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

use axum::extract::{ConnectInfo, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::channel::ChannelName;
use crate::hub::{Hub, CURSOR_ENTRY_MAX};
use crate::last_event_id::{LastEventId, MAX_LAST_EVENT_ID_LEN};
use crate::response::{refusal, SseResponse};
use crate::streams::Registration;
use stream::stream_channel;

pub use resolver::{ChannelResolver, ResolvedChannel};
pub use source::{
    fixed_channel, parse_param, template_channel, template_channels, ParseParam, Part, Template,
};
pub use stream::RESET_EVENT;

/// What the attribute of a channel view says, implemented by the view's hidden companion.
pub trait ChannelSource<S>: Clone + Send + Sync + 'static {
    /// The view's name, for logs.
    const VIEW: &'static str;

    /// Whether the view tells its channels' clients who joins and leaves
    /// (`presence = true`).
    const PRESENCE: bool = false;

    /// The response settings the attribute gives, on a response with no frames yet.
    fn options() -> SseResponse<()>;

    /// The channels of this request, or the response that refuses it.
    fn channel(
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<Channels, Response>> + Send;
}

/// The channels a request streams, and who listens, as a resolver returns them.
///
/// ```
/// use sse_runtime::Channels;
///
/// let feed = Channels::many(["news", "user:7"]).member("ann");
/// # let _ = feed;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    names: Vec<String>,
    feed: bool,
    member: Option<String>,
}

impl Channels {
    /// One channel, streamed as a channel view streams it: the events as they were
    /// sent, with the hub's ids.
    pub fn one(name: impl Into<String>) -> Channels {
        Channels {
            names: vec![name.into()],
            feed: false,
            member: None,
        }
    }

    /// A list, streamed as a feed, even of one channel: each event's type names its
    /// channel (`news`, or `news/alert` for an event named `alert`), and its id is a
    /// cursor that resumes every channel (README, "Several channels in one stream").
    pub fn many<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Channels {
        Channels {
            names: names.into_iter().map(Into::into).collect(),
            feed: true,
            member: None,
        }
    }

    /// Who listens: the member a view with `presence = true` announces when the stream
    /// joins and leaves (else an anonymous name).
    pub fn member(mut self, member: impl Into<String>) -> Channels {
        self.member = Some(member.into());
        self
    }

    /// Adds `other`'s channels: the whole is a feed.
    pub(crate) fn extend(&mut self, other: Channels) {
        self.names.extend(other.names);
        self.feed = true;
        self.member = self.member.take().or(other.member);
    }
}

/// The channels of a request, checked against the channel-name rule and the hub's cap.
pub(crate) struct Checked {
    pub(crate) names: Vec<ChannelName>,
    pub(crate) feed: bool,
    pub(crate) member: Option<String>,
}

impl Checked {
    #[allow(clippy::result_large_err)] // a refusal is a response, as in axum
    fn new(channels: Channels, cap: usize) -> Result<Checked, Response> {
        let refuse = |reason: String| (StatusCode::BAD_REQUEST, reason).into_response();
        let mut names: Vec<ChannelName> = Vec::with_capacity(channels.names.len().min(cap));
        for name in channels.names {
            let name = ChannelName::new(&name).map_err(IntoResponse::into_response)?;
            if !names.contains(&name) {
                names.push(name);
            }
            if names.len() > cap {
                return Err(refuse(format!(
                    "the request names more than {cap} channels, the most one stream may follow\n"
                )));
            }
        }
        if names.is_empty() {
            return Err(refuse("the request names no channel\n".to_owned()));
        }
        Ok(Checked {
            names,
            feed: channels.feed,
            member: channels.member,
        })
    }

    /// The longest `Last-Event-ID` such a stream gives its client.
    fn longest_id(&self, cap: usize) -> usize {
        match self.feed {
            false => MAX_LAST_EVENT_ID_LEN,
            true => MAX_LAST_EVENT_ID_LEN.max(cap * CURSOR_ENTRY_MAX),
        }
    }

    /// The channels, joined by `,`, for traces.
    fn joined(&self) -> String {
        let names: Vec<&str> = self.names.iter().map(ChannelName::as_str).collect();
        names.join(",")
    }
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
            let channels = match V::channel(&mut parts, &state).await {
                Ok(channels) => channels,
                Err(refusal) => return refusal,
            };
            let cap = hub.stream_channels();
            let channels = match Checked::new(channels, cap) {
                Ok(channels) => channels,
                Err(refusal) => return refusal,
            };
            match LastEventId::read_within(&parts, channels.longest_id(cap)) {
                Ok(LastEventId(last)) => {
                    let span = registration.span();
                    span.record("channel", channels.joined());
                    if let Some(ConnectInfo(client)) =
                        parts.extensions.get::<ConnectInfo<SocketAddr>>()
                    {
                        span.record("client", tracing::field::display(client));
                    }
                    if let Some(last) = &last {
                        span.record("resumed_from", last.as_str());
                    }
                    let options = V::options();
                    stream_channel(
                        registration,
                        hub,
                        channels,
                        last,
                        V::VIEW,
                        V::PRESENCE,
                        options,
                    )
                    .await
                }
                Err(error) => error.into_response(),
            }
        })
    }
}
