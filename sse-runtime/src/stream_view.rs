//! Views that return a stream: each item the stream yields is an event of the response.
//!
//! `#[sse_view]` on a function returning `impl Stream<Item = Event>` (or of a typed
//! event, or of `Result`s of either) builds its response here. The stream is polled by the response, so
//! it stops at its `.await` when the client goes away, as a generator view's body does.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::response::IntoResponse;
use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::generator::ViewResponse;
use crate::telemetry;
use crate::{Event, SseEvent, SseResponse};

/// What a stream view's stream may yield: an [`Event`], a typed event (see
/// [`SseEvent`]), or a `Result` of one whose error ends the stream and is logged.
#[diagnostic::on_unimplemented(
    message = "an `#[sse_view]` stream yields `Event`, a type that derives `SseEvent`, or a `Result` of one with an error that is `Display`, not `{Self}`",
    label = "this item type"
)]
pub trait StreamItem {
    /// The encoded event, or what went wrong, said.
    fn encode(self) -> Result<Bytes, String>;
}

impl<T: SseEvent> StreamItem for T {
    fn encode(self) -> Result<Bytes, String> {
        match self.to_event() {
            Ok(event) => Ok(Event::encode(&event)),
            Err(error) => Err(error.to_string()),
        }
    }
}

impl<T: SseEvent, E: Display> StreamItem for Result<T, E> {
    fn encode(self) -> Result<Bytes, String> {
        self.map_err(|error| error.to_string())?.encode()
    }
}

/// The response of a stream view: `stream` resolves to the view's stream, whose items go
/// out as events. `view` names it in logs.
pub fn stream_view<F, S>(view: &'static str, options: SseResponse<()>, stream: F) -> ViewResponse
where
    F: Future<Output = S> + Send + 'static,
    S: Stream + Send + 'static,
    S::Item: StreamItem,
{
    let frames = Frames {
        view,
        start: Some(stream),
        stream: None,
    };
    ViewResponse::new(options.of_view(view).with_frames(frames).into_response())
}

pin_project! {
    /// The encoded events of a view's stream.
    struct Frames<F, S> {
        view: &'static str,
        #[pin]
        start: Option<F>,
        #[pin]
        stream: Option<S>,
    }
}

impl<F, S> Stream for Frames<F, S>
where
    F: Future<Output = S>,
    S: Stream,
    S::Item: StreamItem,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        if let Some(start) = this.start.as_mut().as_pin_mut() {
            let stream = ready!(start.poll(cx));
            this.start.set(None);
            this.stream.set(Some(stream));
        }
        let Some(stream) = this.stream.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let item = ready!(stream.poll_next(cx));
        match item.map(StreamItem::encode) {
            Some(Ok(frame)) => {
                telemetry::delivered(1);
                Poll::Ready(Some(frame))
            }
            Some(Err(error)) => {
                tracing::error!(view = *this.view, %error, "the view ended its stream with an error");
                this.stream.set(None);
                Poll::Ready(None)
            }
            None => {
                this.stream.set(None);
                Poll::Ready(None)
            }
        }
    }
}
