//! The in-process broker: what is sent here reaches the listeners of this process.

use std::sync::Arc;

use super::fanout::Fanout;
use super::{BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;

pub(crate) struct Embedded {
    fanout: Arc<Fanout>,
}

impl Embedded {
    pub(crate) fn new(fanout: &Arc<Fanout>) -> Self {
        Self {
            fanout: fanout.clone(),
        }
    }
}

impl Broker for Embedded {
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.fanout.deliver(channel.as_str(), event.encode());
        Box::pin(std::future::ready(Ok(())))
    }

    fn listen(&self, _: &ChannelName) -> bool {
        true
    }

    fn unlisten(&self, _: &ChannelName) {}
}
