//! What [`stream!`](crate::stream!) expands to: an async block whose `yield`s become the
//! items of a [`Stream`].
//!
//! The macro rewrites each `yield value` into `yielder.hand(value).await`: the value goes
//! into a slot the stream shares with the block, and the block pauses once, so the
//! stream can return the value before the block runs on. No task is spawned and no
//! channel is allocated; the block runs when, and only when, the stream is polled.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

/// The slot an item waits in between a `yield` and the stream that returns it.
type Slot<T> = Arc<Mutex<Option<T>>>;

fn take<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Hands what the block yields to its stream.
#[derive(Debug)]
pub struct Yielder<T> {
    slot: Slot<T>,
}

impl<T> Yielder<T> {
    /// Puts `value` in the slot; the returned future pauses the block once.
    pub fn hand(&self, value: T) -> Pause {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        Pause { paused: false }
    }
}

/// Pending once, ready after: the stream returns the item in between.
#[derive(Debug)]
#[must_use = "a `yield` pauses the block only when awaited"]
pub struct Pause {
    paused: bool,
}

impl Future for Pause {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.paused {
            return Poll::Ready(());
        }
        // No waker: the stream sees the item in the slot and returns it at once, and its
        // next poll resumes the block.
        self.paused = true;
        Poll::Pending
    }
}

pin_project! {
    /// The stream of what an async block yields; it ends when the block returns.
    #[derive(Debug)]
    #[must_use = "a stream does nothing unless polled"]
    pub struct Yielded<T, F> {
        slot: Slot<T>,
        #[pin]
        block: Option<F>,
    }
}

impl<T, F: Future<Output = ()>> Yielded<T, F> {
    /// The stream of `block`, which gets the [`Yielder`] its `yield`s hand items to.
    pub fn new(block: impl FnOnce(Yielder<T>) -> F) -> Self {
        let slot = Slot::default();
        let block = block(Yielder { slot: slot.clone() });
        Self {
            slot,
            block: Some(block),
        }
    }
}

impl<T, F: Future<Output = ()>> Stream for Yielded<T, F> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut this = self.project();
        let Some(block) = this.block.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        match block.poll(cx) {
            Poll::Ready(()) => {
                this.block.set(None);
                Poll::Ready(None)
            }
            Poll::Pending => match take(this.slot) {
                Some(item) => Poll::Ready(Some(item)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn yields_in_order_across_awaits_then_ends() {
        let stream = Yielded::new(|yielder| async move {
            for n in 0..3 {
                yielder.hand(n).await;
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(stream.collect::<Vec<u32>>().await, [0, 1, 2]);
    }

    #[tokio::test]
    async fn the_block_runs_only_as_far_as_the_stream_is_read() {
        let ran = Arc::new(Mutex::new(0));
        let counter = ran.clone();
        let mut stream = Box::pin(Yielded::new(|yielder| async move {
            for n in 0..10 {
                *counter.lock().unwrap() += 1;
                yielder.hand(n).await;
            }
        }));
        assert_eq!(stream.next().await, Some(0));
        assert_eq!(stream.next().await, Some(1));
        assert_eq!(*ran.lock().unwrap(), 2);
    }
}
