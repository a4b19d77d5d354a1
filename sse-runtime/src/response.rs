//! The HTTP response of a stream: its headers, its first frame and its keep-alive.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;
use http_body::Frame;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::event::Event;
use crate::keep_alive::KeepAlive;
use crate::streams::{Ended, Refused, Registration};

/// A `text/event-stream` response whose body is a stream of encoded events.
///
/// Each item of the stream is one or more events already encoded (see
/// [`Event::encode`]) and goes out as one write. The response carries
/// `Content-Type: text/event-stream`, `Cache-Control: no-cache` and
/// `X-Accel-Buffering: no`, the last so that nginx passes events on at once.
///
/// ```
/// use axum::{routing::get, Router};
/// use sse_runtime::{Event, SseResponse};
///
/// async fn hello() -> SseResponse<impl futures_core::Stream<Item = bytes::Bytes>> {
///     let frames = ["one", "two"].map(|data| Event::new().data(data).encode());
///     SseResponse::new(futures_util::stream::iter(frames))
/// }
///
/// let app: Router = Router::new().route("/hello", get(hello));
/// ```
#[must_use]
#[derive(Debug)]
pub struct SseResponse<S> {
    frames: S,
    keep_alive: Option<KeepAlive>,
    retry: Option<Duration>,
    /// What its stream is counted as in `sse_streams_open`.
    view: &'static str,
}

impl<S> SseResponse<S> {
    /// A response streaming `frames`, with the default [`KeepAlive`].
    pub fn new(frames: S) -> Self {
        Self {
            frames,
            keep_alive: Some(KeepAlive::default()),
            retry: None,
            view: "sse_response",
        }
    }

    /// Sets the keep-alive, or turns it off with `None`.
    pub fn keep_alive(mut self, keep_alive: impl Into<Option<KeepAlive>>) -> Self {
        self.keep_alive = keep_alive.into();
        self
    }

    /// Tells the client, before any event, how long to wait before it reconnects.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The same settings, streaming `frames`: how a view's attribute, which gives the
    /// settings on an `SseResponse<()>`, meets the frames its body makes.
    pub(crate) fn with_frames<T>(self, frames: T) -> SseResponse<T> {
        SseResponse {
            frames,
            keep_alive: self.keep_alive,
            retry: self.retry,
            view: self.view,
        }
    }

    /// The same response, counted as a stream of `view` (`sse_streams_open`).
    pub(crate) fn of_view(mut self, view: &'static str) -> Self {
        self.view = view;
        self
    }
}

impl<S> IntoResponse for SseResponse<S>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    fn into_response(self) -> Response {
        match Registration::open(self.view) {
            Ok(registration) => self.into_registered_response(registration),
            Err(refused) => refusal(refused),
        }
    }
}

impl<S> SseResponse<S>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    /// The response of a stream that already holds its place among the open streams:
    /// for handlers that check the limit before doing work a refusal would waste.
    pub(crate) fn into_registered_response(self, registration: Registration) -> Response {
        tracing::debug!(parent: registration.span(), "stream opened");
        let idle = self
            .keep_alive
            .as_ref()
            .map(|keep_alive| tokio::time::sleep(keep_alive.interval));
        let body = SseBody {
            registration,
            first: self.retry.map(|retry| Event::new().retry(retry).encode()),
            frames: self.frames,
            keep_alive: self.keep_alive,
            idle,
            spoke: false,
            said_goodbye: false,
        };
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                ),
            ],
            axum::body::Body::new(body),
        )
            .into_response()
    }
}

/// `503 Service Unavailable` with `Retry-After: 1`: the client may try again in a second.
pub(crate) fn refusal(refused: Refused) -> Response {
    let reason = match refused {
        Refused::ShuttingDown => "the server is shutting down\n",
        Refused::Full => "the server holds as many streams as it may\n",
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
        reason,
    )
        .into_response()
}

pin_project! {
    struct SseBody<S> {
        registration: Registration,
        first: Option<Bytes>,
        #[pin]
        frames: S,
        keep_alive: Option<KeepAlive>,
        // Fires every interval; a keep-alive goes out if no real frame did since the
        // last time it fired. Re-arming it per frame instead would cost a timer update
        // per event per client.
        #[pin]
        idle: Option<Sleep>,
        spoke: bool,
        said_goodbye: bool,
    }
}

impl<S: Stream<Item = Bytes>> http_body::Body for SseBody<S> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.project();
        let _span = this.registration.span().enter();
        if this.registration.ended() {
            this.registration.end_because(Ended::Shutdown);
            return Poll::Ready(goodbye(this.said_goodbye));
        }
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match this.frames.poll_next(cx) {
            Poll::Ready(None) => {
                this.registration.end_because(Ended::ByView);
                return Poll::Ready(None);
            }
            Poll::Ready(Some(frame)) => {
                *this.spoke = true;
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            Poll::Pending => {}
        }
        if this.registration.must_end(cx.waker()) {
            this.registration.end_because(Ended::Shutdown);
            return Poll::Ready(goodbye(this.said_goodbye));
        }
        let (Some(keep_alive), Some(mut idle)) = (this.keep_alive, this.idle.as_pin_mut()) else {
            return Poll::Pending;
        };
        if idle.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        idle.as_mut().reset(Instant::now() + keep_alive.interval);
        if std::mem::take(this.spoke) {
            // Not silent for a whole interval yet: wait for the new deadline.
            let _ = idle.poll(cx);
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(Frame::data(keep_alive.frame.clone()))))
    }
}

/// The last frame of a stream ended by a shutdown: a `retry:` spread at random over a
/// few seconds, so that the clients of an instance going away do not all reconnect in
/// the same instant. Then the end.
fn goodbye(said: &mut bool) -> Option<Result<Frame<Bytes>, Infallible>> {
    if std::mem::replace(said, true) {
        return None;
    }
    let retry = crate::streams::reconnect_spread();
    Some(Ok(Frame::data(Event::new().retry(retry).encode())))
}
