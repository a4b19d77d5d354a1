//! The in-process broker: what is sent here reaches the listeners of this process, and
//! the last events of each channel are kept for clients that resume.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::builder::{Settings, DEFAULT_EMBEDDED_HISTORY_BYTES};
use super::encoded::Encoded;
use super::fanout::Fanout;
use super::history::{Bounds, Histories, Page};
use super::id::EventId;
use super::presence::{self, ChannelReport};
use super::sent_keys::{SentKeys, KEYS_KEPT};
use super::{BoxFuture, Broker};
use crate::channel::ChannelName;
use crate::error::Error;
use crate::event::Event;

pub(crate) struct Embedded {
    fanout: Arc<Fanout>,
    state: Mutex<State>,
}

struct State {
    histories: Histories,
    /// The idempotency keys sent with.
    keys: SentKeys,
}

impl Embedded {
    pub(crate) fn new(fanout: &Arc<Fanout>, settings: &Settings) -> Self {
        let bounds = Bounds {
            per_channel: settings.history,
            channels: settings.history_channels,
            bytes: settings
                .history_bytes
                .unwrap_or(DEFAULT_EMBEDDED_HISTORY_BYTES),
        };
        Self {
            fanout: fanout.clone(),
            state: Mutex::new(State {
                histories: Histories::new(bounds),
                keys: SentKeys::new(KEYS_KEPT),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Broker for Embedded {
    fn publish<'a>(
        &'a self,
        channel: &'a ChannelName,
        event: &'a Event,
        key: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // One lock around id, history and delivery, so every listener sees the events of
        // a channel in id order.
        let mut state = self.state();
        if key.is_none_or(|key| state.keys.first_use(channel, key)) {
            let id = state.histories.next_id();
            let frame = Encoded::issued(id, event.encode_with_id(&id.to_string()));
            state.histories.push(channel, frame.clone());
            self.fanout.deliver(channel.as_str(), frame);
        }
        drop(state);
        // A loop of sends never waits on anything here: spend the task's budget, so
        // that it yields now and then and the clients it feeds get to run.
        Box::pin(async {
            tokio::task::consume_budget().await;
            Ok(())
        })
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        from: EventId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        let page = self.state().histories.after(channel.as_str(), from, limit);
        Box::pin(std::future::ready(Ok(page)))
    }

    fn history_from_beginning<'a>(
        &'a self,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        let page = self.state().histories.first_events(channel.as_str(), limit);
        Box::pin(std::future::ready(Ok(page)))
    }

    fn last_ids<'a>(
        &'a self,
        channels: &'a [&'a ChannelName],
    ) -> BoxFuture<'a, Result<Vec<Option<EventId>>, Error>> {
        let state = self.state();
        let last = channels
            .iter()
            .map(|channel| state.histories.last_id(channel.as_str()))
            .collect();
        Box::pin(std::future::ready(Ok(last)))
    }

    fn report<'a>(
        &'a self,
        _: &'a str,
        changes: &'a [ChannelReport],
    ) -> BoxFuture<'a, Result<(), Error>> {
        report_here(&self.fanout, changes);
        Box::pin(std::future::ready(Ok(())))
    }

    fn presence<'a>(&'a self, _: &'a ChannelName) -> BoxFuture<'a, Result<Option<usize>, Error>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn listen(&self, _: &ChannelName) -> bool {
        true
    }

    fn unlisten(&self, _: &ChannelName) {}
}

/// Tells the local clients of each channel in `changes` whose members came or went: a
/// broker that knows this process only reports so.
pub(super) fn report_here(fanout: &Fanout, changes: &[ChannelReport]) {
    for change in changes {
        if let Some(members) = &change.members {
            let event = presence::event(change.channel.as_str(), change.count, members);
            fanout.deliver(change.channel.as_str(), event);
        }
    }
}
