//! Resolvers: async functions that find the channel of a request from its extractors,
//! and what they may return.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Channels;
use crate::channel::ChannelName;

/// What a channel resolver may return: a channel, a list of them, or a refusal.
pub trait ResolvedChannel {
    /// The channels, or the response that refuses the request.
    #[allow(clippy::result_large_err)] // a rejection is a response, as in axum
    fn into_channels(self) -> Result<Channels, Response>;
}

impl ResolvedChannel for String {
    fn into_channels(self) -> Result<Channels, Response> {
        Ok(Channels::one(self))
    }
}

impl ResolvedChannel for &'static str {
    fn into_channels(self) -> Result<Channels, Response> {
        Ok(Channels::one(self))
    }
}

impl ResolvedChannel for ChannelName {
    fn into_channels(self) -> Result<Channels, Response> {
        Ok(Channels::one(self.as_str()))
    }
}

impl ResolvedChannel for Channels {
    fn into_channels(self) -> Result<Channels, Response> {
        Ok(self)
    }
}

/// A list streams as a feed, even of one channel or none (which is refused with `400`).
impl<C: ResolvedChannel> ResolvedChannel for Vec<C> {
    fn into_channels(self) -> Result<Channels, Response> {
        let mut all = Channels::many(Vec::<String>::new());
        for channels in self {
            all.extend(channels.into_channels()?);
        }
        Ok(all)
    }
}

/// `None` answers `404 Not Found`.
impl<C: ResolvedChannel> ResolvedChannel for Option<C> {
    fn into_channels(self) -> Result<Channels, Response> {
        self.ok_or_else(|| StatusCode::NOT_FOUND.into_response())?
            .into_channels()
    }
}

/// `Err(rejection)` answers with the rejection, such as `StatusCode::FORBIDDEN`.
impl<C: ResolvedChannel, E: IntoResponse> ResolvedChannel for Result<C, E> {
    fn into_channels(self) -> Result<Channels, Response> {
        self.map_err(IntoResponse::into_response)?.into_channels()
    }
}

/// An async function that finds the channel of a request from its extractors.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a channel resolver: an `async fn` whose arguments are extractors and that returns a channel name or a `Vec` of them, `Option` of one, or `Result` of one and a rejection",
    note = "a resolver that takes `State<T>` needs `state = T` in the `#[sse_view]` attribute"
)]
pub trait ChannelResolver<T, S>: Send + Sync {
    /// Runs the resolver on a request.
    fn resolve(
        self,
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<Channels, Response>> + Send;
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
            async fn resolve(self, parts: &mut Parts, state: &S) -> Result<Channels, Response> {
                $(
                    let $arg = $arg::from_request_parts(parts, state)
                        .await
                        .map_err(IntoResponse::into_response)?;
                )*
                self($($arg),*).await.into_channels()
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
