//! What the macros' generated code calls. Not a public API: it changes without notice.

use std::future::Future;

use axum::extract::{FromRequest, FromRequestParts};
use axum::response::IntoResponse;

pub use axum;
pub use axum::response::Response;
pub use core::clone::Clone;
pub use core::marker::{Copy, Send, Sync};
pub use core::option::Option;
pub use core::result::Result;
pub use serde;
pub use std::borrow::Cow;
pub use std::string::{String, ToString};

pub use crate::channel_view::{
    fixed_channel, parse_param, template_channel, template_channels, ChannelResolver, ChannelRoute,
    ChannelSource, Channels, ParseParam, Part, Template,
};
pub use crate::finished::refuse_finished;
use crate::generator::Generator;
pub use crate::generator::ViewOutcome;
pub use crate::response::SseResponse;
pub use crate::stream_view::stream_view;
pub use crate::yielder::{Yielded, Yielder};
pub use crate::KeepAlive;
use crate::Sse;
pub use crate::ViewResponse;
pub use crate::{Event, Hub, TypedChannel};
pub use axum::http::request::Parts;
pub use sse_macros::{sse_routes, stream};
pub use std::fmt::Display;
pub use std::future::Future as FutureTrait;

/// The response of a generator view: `body` gets the buffer and streams its flushes.
pub fn generator<R, F>(
    view: &'static str,
    options: SseResponse<()>,
    body: impl FnOnce(Sse) -> F,
) -> ViewResponse
where
    F: Future<Output = R> + Send + 'static,
    R: ViewOutcome,
{
    ViewResponse::new(
        options
            .of_view(view)
            .with_frames(Generator::new(view, body))
            .into_response(),
    )
}

/// What `sse_routes!` mounts: a function under `#[sse_view]` (it returns a
/// [`ViewResponse`]; `T` is its arguments) or a channel view (its companion implements
/// it, `T` is [`ChannelView`]).
#[diagnostic::on_unimplemented(
    message = "`sse_routes!` mounts `#[sse_view]` items only, and this is not one",
    label = "not an `#[sse_view]`",
    note = "mount a plain handler on the router `sse_routes!` returns: `.route(\"/path\", axum::routing::get(handler))`"
)]
pub trait SseView<T> {}

/// The `T` of a channel view's [`SseView`].
#[derive(Debug)]
pub enum ChannelView {}

/// Compiles only if `view` is an `#[sse_view]` item.
pub fn is_view<T, V: SseView<T>>(_: &V) {}

macro_rules! function_views {
    ($($arg:ident)*) => {
        impl<F, $($arg,)*> SseView<($($arg,)*)> for F where F: Fn($($arg),*) -> ViewResponse {}
    };
}

function_views!();
function_views!(A1);
function_views!(A1 A2);
function_views!(A1 A2 A3);
function_views!(A1 A2 A3 A4);
function_views!(A1 A2 A3 A4 A5);
function_views!(A1 A2 A3 A4 A5 A6);
function_views!(A1 A2 A3 A4 A5 A6 A7);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15);
function_views!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 A16);

/// Compiles only if `T` can be extracted from request parts with state `S`.
pub const fn extractor<T: FromRequestParts<S>, S>() {}

/// Compiles only if `T` can be extracted from a request with state `S`, as the last
/// argument of a handler may be.
pub const fn last_extractor<T: FromRequest<S, M>, S, M>() {}

/// The path a view is mounted at: the one its attribute gives or the one `sse_routes!`
/// gives; exactly one of them, or both the same. The view's channel template may only
/// use parameters of that path. Evaluated at compile time, so a mistake fails the build.
/// A view that failed to compile (`valid` false) has reported its own errors and gets a
/// placeholder.
pub const fn mount_path(
    attribute: Option<&'static str>,
    mounted: Option<&'static str>,
    valid: bool,
    channel: &[Part],
) -> &'static str {
    let path = match (attribute, mounted) {
        _ if !valid => return "/",
        (Some(path), None) | (None, Some(path)) => path,
        (Some(attribute), Some(mounted)) => {
            if !same(attribute.as_bytes(), mounted.as_bytes()) {
                panic!("this view is mounted at a path other than its `#[sse_view]` path: give the path in one place only");
            }
            attribute
        }
        (None, None) => panic!(
            "this view has no path: give it in its attribute, `#[sse_view(\"/path\")]`, or where it is mounted, `sse_routes![\"/path\" => View]`"
        ),
    };
    let mut i = 0;
    while i < channel.len() {
        if let Part::Param(name) = channel[i] {
            if !has_param(path.as_bytes(), name.as_bytes()) {
                panic!("this view's channel uses a `{{name}}` that is not a parameter of the path it is mounted at: add it to the path or remove it from the channel");
            }
        }
        i += 1;
    }
    path
}

/// Whether `path` holds `{name}` (or `{*name}`).
const fn has_param(path: &[u8], name: &[u8]) -> bool {
    let mut at = 0;
    while at < path.len() {
        if path[at] == b'{' {
            let start = if at + 1 < path.len() && path[at + 1] == b'*' {
                at + 2
            } else {
                at + 1
            };
            let end = start + name.len();
            if end < path.len() && path[end] == b'}' && same_at(path, start, name) {
                return true;
            }
        }
        at += 1;
    }
    false
}

const fn same_at(haystack: &[u8], start: usize, needle: &[u8]) -> bool {
    let mut i = 0;
    while i < needle.len() {
        if haystack[start + i] != needle[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_at(a, 0, b)
}
