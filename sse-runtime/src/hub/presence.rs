//! Presence: how many streams listen to each channel in every process that shares the
//! broker and, for views that ask, who came and went.
//!
//! Each process counts its own streams per channel and reports what changed in batches,
//! at most every [`FLUSH`], with a heartbeat every [`BEAT`]: a thousand joins a second
//! cost a few commands, not a thousand. On Redis, each channel has a hash of counts by
//! process and one sorted set holds every process's last heartbeat; a process silent
//! for [`DEAD`] (killed without a goodbye) drops out of every count. Every [`RESYNC`] a
//! process reports all its counts again, so a Redis that restarted empty learns them
//! back. Join and leave events are published without an id: they are live news, not
//! history, and move no client's position.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::encoded::Encoded;
use super::Broker;
use crate::channel::ChannelName;
use crate::event::Event;

/// The event that tells a channel's clients who joined and left, and how many listen:
/// data `{"channel":"room:1","count":3,"joined":["ann"],"left":[]}`.
pub const PRESENCE_EVENT: &str = "sse-presence";

/// The most often a process reports.
pub(crate) const FLUSH: Duration = Duration::from_millis(250);
/// How often a process says it is alive, changes or not.
pub(crate) const BEAT: Duration = Duration::from_secs(1);
/// How long a process may stay silent before it no longer counts.
pub(crate) const DEAD: Duration = Duration::from_secs(10);
/// How often a process reports every count it has again.
const RESYNC: Duration = Duration::from_secs(10);
/// The most channels one report names.
const CHUNK: usize = 500;

/// The presence of one process.
pub(crate) struct Presence {
    state: Mutex<State>,
    /// This process's name among those that share the broker.
    process: String,
    started: AtomicBool,
    anonymous: AtomicU64,
}

#[derive(Default)]
struct State {
    channels: HashMap<ChannelName, Local>,
    /// The channels whose count or members changed since the last report.
    dirty: Vec<ChannelName>,
}

#[derive(Default)]
struct Local {
    count: usize,
    joined: Vec<Box<str>>,
    left: Vec<Box<str>>,
    dirty: bool,
}

/// What changed on one channel since the last report.
pub(crate) struct ChannelReport {
    pub(crate) channel: ChannelName,
    /// This process's streams on the channel now.
    pub(crate) count: usize,
    /// `"joined":[...],"left":[...]`, when members of views with presence on came or
    /// went: the channel's clients are then told.
    pub(crate) members: Option<String>,
}

impl Presence {
    pub(crate) fn new() -> Arc<Presence> {
        Arc::new(Presence {
            state: Mutex::default(),
            process: process_name(),
            started: AtomicBool::new(false),
            anonymous: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's name in the broker's records.
    pub(crate) fn process(&self) -> &str {
        &self.process
    }

    /// How many streams of this process listen to `channel`.
    pub(crate) fn local(&self, channel: &str) -> usize {
        self.lock()
            .channels
            .get(channel)
            .map_or(0, |local| local.count)
    }

    /// A stream joins `channels`; announced as `member` (or an anonymous name) when
    /// `announce`. It leaves when the [`Membership`] is dropped.
    pub(crate) fn join(
        self: &Arc<Self>,
        broker: &Arc<dyn Broker>,
        channels: Vec<ChannelName>,
        member: Option<String>,
        announce: bool,
    ) -> Membership {
        self.start(broker);
        let member = announce.then(|| {
            member.unwrap_or_else(|| {
                let n = self.anonymous.fetch_add(1, Ordering::Relaxed);
                format!("anonymous:{}:{n}", self.process)
            })
        });
        let mut state = self.lock();
        for channel in &channels {
            let local = state.touch(channel);
            local.count += 1;
            if let Some(member) = &member {
                local.joined.push(member.as_str().into());
            }
        }
        drop(state);
        Membership {
            presence: self.clone(),
            channels,
            member: member.map(String::into_boxed_str),
        }
    }

    fn leave(&self, channels: &[ChannelName], member: Option<&str>) {
        let mut state = self.lock();
        for channel in channels {
            let local = state.touch(channel);
            local.count = local.count.saturating_sub(1);
            if let Some(member) = member {
                local.left.push(member.into());
            }
        }
    }

    /// What changed since the last report, or, when `all`, every channel's count.
    fn take(&self, all: bool) -> Vec<ChannelReport> {
        let mut state = self.lock();
        let State { channels, dirty } = &mut *state;
        let names: Vec<ChannelName> = match all {
            true => {
                dirty.clear();
                channels.keys().cloned().collect()
            }
            false => std::mem::take(dirty),
        };
        let mut changes = Vec::with_capacity(names.len());
        for name in names {
            let Some(local) = channels.get_mut(&name) else {
                continue;
            };
            local.dirty = false;
            let members = match local.joined.is_empty() && local.left.is_empty() {
                true => None,
                false => Some(members_json(&local.joined, &local.left)),
            };
            local.joined.clear();
            local.left.clear();
            let count = local.count;
            if count == 0 {
                channels.remove(&name);
            }
            changes.push(ChannelReport {
                channel: name,
                count,
                members,
            });
        }
        changes
    }

    /// Starts the task that reports, within the first stream's runtime.
    fn start(self: &Arc<Self>, broker: &Arc<dyn Broker>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(report(Arc::downgrade(self), broker.clone()));
            }
            Err(_) => self.started.store(false, Ordering::Release),
        }
    }
}

impl State {
    fn touch(&mut self, channel: &ChannelName) -> &mut Local {
        let local = self.channels.entry(channel.clone()).or_default();
        if !local.dirty {
            local.dirty = true;
            self.dirty.push(channel.clone());
        }
        local
    }
}

/// A stream's presence on its channels; dropping it leaves them.
pub(crate) struct Membership {
    presence: Arc<Presence>,
    channels: Vec<ChannelName>,
    member: Option<Box<str>>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.presence.leave(&self.channels, self.member.as_deref());
    }
}

/// Reports changes every `FLUSH` while there are any, and at least every `BEAT`, until
/// the hub is gone. A report that fails is made again in full.
async fn report(presence: Weak<Presence>, broker: Arc<dyn Broker>) {
    let mut tick = tokio::time::interval(FLUSH);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut beaten = Instant::now();
    let mut synced = Instant::now();
    let mut resync = false;
    loop {
        tick.tick().await;
        let Some(presence) = presence.upgrade() else {
            return;
        };
        let all = resync || synced.elapsed() >= RESYNC;
        let changes = presence.take(all);
        if changes.is_empty() && beaten.elapsed() < BEAT {
            continue;
        }
        let mut failed = None;
        let mut chunks = changes.chunks(CHUNK);
        let first = chunks.next().unwrap_or_default();
        for chunk in std::iter::once(first).chain(chunks) {
            if let Err(error) = broker.report(presence.process(), chunk).await {
                failed = Some(error);
                break;
            }
        }
        beaten = Instant::now();
        if all {
            synced = beaten;
        }
        resync = failed.is_some();
        if let Some(error) = failed {
            tracing::warn!(%error, "presence could not be reported; it is reported in full next time");
        }
    }
}

/// `"joined":[...],"left":[...]`.
fn members_json(joined: &[Box<str>], left: &[Box<str>]) -> String {
    let list = |members: &[Box<str>]| serde_json::to_string(members).unwrap_or_default();
    format!("\"joined\":{},\"left\":{}", list(joined), list(left))
}

/// The presence event of `channel` with `count` listeners and `members` came and went.
pub(crate) fn event(channel: &str, count: usize, members: &str) -> Encoded {
    let channel = serde_json::to_string(channel).unwrap_or_default();
    let data = format!("{{\"channel\":{channel},\"count\":{count},{members}}}");
    Encoded {
        id: None,
        bytes: Event::new().event(PRESENCE_EVENT).data(data).encode(),
    }
}

/// A name no other process sharing the broker has: the host's process id, the time, and
/// a counter, hashed into 16 hex digits.
fn process_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(super::id::now_ms());
    format!("{:016x}", hasher.finish())
}
