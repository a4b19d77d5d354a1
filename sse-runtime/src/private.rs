//! What the macros' generated code calls. Not a public API: it changes without notice.

use std::future::Future;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts};
use axum::response::IntoResponse;

pub use axum;
pub use axum::response::Response;
pub use core::option::Option;

use crate::generator::Generator;
pub use crate::generator::ViewOutcome;
use crate::response::SseResponse;
use crate::{KeepAlive, Sse};

/// The response settings a view's attribute may give.
#[derive(Debug, Default)]
pub struct Options {
    keep_alive: KeepAlive,
    retry: Option<Duration>,
}

impl Options {
    /// The defaults: a keep-alive after 15 s of silence, no `retry:` field.
    pub fn new() -> Self {
        Self::default()
    }

    /// `keep_alive = interval`.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = self.keep_alive.interval(interval);
        self
    }

    /// `retry = delay`.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    fn apply<S>(self, response: SseResponse<S>) -> SseResponse<S> {
        let response = response.keep_alive(self.keep_alive);
        match self.retry {
            Some(retry) => response.retry(retry),
            None => response,
        }
    }
}

/// The response of a generator view: `body` gets the buffer and streams its flushes.
pub fn generator<R, F>(
    view: &'static str,
    options: Options,
    body: impl FnOnce(Sse) -> F,
) -> Response
where
    F: Future<Output = R> + Send + 'static,
    R: ViewOutcome,
{
    options
        .apply(SseResponse::new(Generator::new(view, body)))
        .into_response()
}

/// Compiles only if `T` can be extracted from request parts with state `S`.
pub const fn extractor<T: FromRequestParts<S>, S>() {}

/// Compiles only if `T` can be extracted from a request with state `S`, as the last
/// argument of a handler may be.
pub const fn last_extractor<T: FromRequest<S, M>, S, M>() {}

/// The path a view is mounted at: the one its attribute gives or the one `sse_routes!`
/// gives; exactly one of them, or both the same. Evaluated at compile time, so a mistake
/// fails the build. A view that failed to compile (`valid` false) has reported its own
/// errors and gets a placeholder.
pub const fn mount_path(
    attribute: Option<&'static str>,
    mounted: Option<&'static str>,
    valid: bool,
) -> &'static str {
    match (attribute, mounted) {
        _ if !valid => "/",
        (Some(path), None) | (None, Some(path)) => path,
        (Some(attribute), Some(mounted)) => {
            if !same(attribute, mounted) {
                panic!("this view is mounted at a path other than its `#[sse_view]` path: give the path in one place only");
            }
            attribute
        }
        (None, None) => panic!(
            "this view has no path: give it in its attribute, `#[sse_view(\"/path\")]`, or where it is mounted, `sse_routes![\"/path\" => View]`"
        ),
    }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
