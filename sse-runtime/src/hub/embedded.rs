//! The in-process broker: what is sent here reaches the listeners of this process, and
//! the last events of each channel are kept for clients that resume.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::fanout::Fanout;
use super::history::{EventId, Frame, Histories, Resume};
use super::{BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;

pub(crate) struct Embedded {
    fanout: Arc<Fanout>,
    histories: Mutex<Histories>,
}

impl Embedded {
    pub(crate) fn new(fanout: &Arc<Fanout>, history: usize, max_channels: usize) -> Self {
        Self {
            fanout: fanout.clone(),
            histories: Mutex::new(Histories::new(history, max_channels)),
        }
    }

    fn histories(&self) -> MutexGuard<'_, Histories> {
        self.histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Broker for Embedded {
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // One lock around id, history and delivery, so every listener sees the events of
        // a channel in id order.
        let mut histories = self.histories();
        let id = histories.next_id();
        let frame = Frame {
            id: Some(id),
            bytes: event.encode_with_id(&id.to_string()),
        };
        histories.push(channel, frame.clone());
        self.fanout.deliver(channel.as_str(), frame);
        drop(histories);
        // A loop of sends never waits on anything here: spend the task's budget, so
        // that it yields now and then and the clients it feeds get to run.
        Box::pin(async {
            tokio::task::consume_budget().await;
            Ok(())
        })
    }

    fn resume<'a>(
        &'a self,
        channel: &'a ChannelName,
        last: EventId,
    ) -> BoxFuture<'a, Result<Resume, Error>> {
        let resume = self.histories().after(channel.as_str(), last);
        Box::pin(std::future::ready(Ok(resume)))
    }

    fn listen(&self, _: &ChannelName) -> bool {
        true
    }

    fn unlisten(&self, _: &ChannelName) {}
}
