//! Runs the body of a generator view and turns its flushes into the frames of a response.
//!
//! The body is polled by the response itself, not spawned: when the client goes away,
//! hyper drops the response, which drops the body at the `.await` it was waiting on.

use std::fmt::Display;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;

use axum::response::Response;

use crate::buffer::{Outbox, Sse};

/// What a function under `#[sse_view]` returns when called: a future of its
/// [`Response`], ready at once (the body runs as the response is streamed).
///
/// The function stays an ordinary axum handler (`get(time)`), `time().await` is its
/// response, and the type tells `sse_routes!` that the function is a view.
#[must_use = "a view's response does nothing unless it is awaited"]
#[derive(Debug)]
pub struct ViewResponse(Ready<Response>);

impl ViewResponse {
    pub(crate) fn new(response: Response) -> Self {
        Self(std::future::ready(response))
    }
}

impl Future for ViewResponse {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// What a view's body may return: `()`, or `Result<(), E>` whose error ends the stream
/// and is logged.
#[diagnostic::on_unimplemented(
    message = "an `#[sse_view]` function returns `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "this return type"
)]
pub trait ViewOutcome {
    /// Logs what went wrong, if anything did.
    fn report(self, view: &'static str);
}

impl ViewOutcome for () {
    fn report(self, _: &'static str) {}
}

impl<E: Display> ViewOutcome for Result<(), E> {
    fn report(self, view: &'static str) {
        if let Err(error) = self {
            tracing::error!(view, %error, "the view ended its stream with an error");
        }
    }
}

pin_project! {
    /// The frames a view's body flushes, as a stream that ends when the body returns.
    pub(crate) struct Generator<F> {
        #[pin]
        body: Option<F>,
        outbox: Outbox,
        view: &'static str,
    }
}

impl<F> Generator<F> {
    /// Hands a new [`Sse`] buffer to `body` and streams what it flushes. `view` names the
    /// view in logs.
    pub(crate) fn new(view: &'static str, body: impl FnOnce(Sse) -> F) -> Self {
        let outbox = Outbox::default();
        let body = body(Sse::new(outbox.clone()));
        Self {
            body: Some(body),
            outbox,
            view,
        }
    }
}

impl<F> Stream for Generator<F>
where
    F: Future,
    F::Output: ViewOutcome,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        let Some(body) = this.body.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        match body.poll(cx) {
            Poll::Pending => match this.outbox.take() {
                Some(frame) => Poll::Ready(Some(frame)),
                None => Poll::Pending,
            },
            Poll::Ready(outcome) => {
                // Dropping the body drops its `Sse`, which hands over what is left.
                this.body.set(None);
                outcome.report(this.view);
                Poll::Ready(this.outbox.take())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn each_flush_is_one_frame_and_leftovers_are_sent() {
        let frames: Vec<Bytes> = Generator::new("test", |mut sse| async move {
            sse.add_message("a", "1");
            sse.add_message("b", "2");
            sse.flush().await;
            sse.flush().await; // nothing buffered: no empty frame
            sse.add_message("c", "3");
        })
        .collect()
        .await;
        assert_eq!(
            frames,
            [
                "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n",
                "event: c\ndata: 3\n\n"
            ]
        );
    }

    #[tokio::test]
    async fn an_error_ends_the_stream_after_what_was_flushed() {
        let frames: Vec<Bytes> = Generator::new("test", |mut sse| async move {
            sse.add_message("a", "1");
            sse.flush().await;
            Err::<(), _>("broken")?;
            sse.add_message("never", "sent");
            Ok::<_, &str>(())
        })
        .collect()
        .await;
        assert_eq!(frames, ["event: a\ndata: 1\n\n"]);
    }
}
