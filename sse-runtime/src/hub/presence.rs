//! Presence: how many streams listen to each channel in every process that shares the
//! broker and, for views that ask, who came and went.
//!
//! Each process counts its own streams per channel (its channels' queues count their
//! listeners, and tell which channels changed) and reports what changed in batches,
//! at most every [`FLUSH`], with a heartbeat every [`BEAT`]: a thousand joins a second
//! cost a few commands, not a thousand. On Redis, each channel has a hash of counts by
//! process and one sorted set holds every process's last heartbeat; a process silent
//! for [`DEAD`] (killed without a goodbye) drops out of every count. Every [`RESYNC`] a
//! process reports all its counts again, so a Redis that restarted empty learns them
//! back. Join and leave events are published without an id: they are live news, not
//! history, and move no client's position.

use std::collections::{HashMap, HashSet};
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

/// Where a process's counts are: its channels' queues, which count their listeners
/// (the fanout). Presence reads them through this, and the fanout tells presence which
/// changed.
pub(crate) trait Counts: Send + Sync + 'static {
    /// The process's presence.
    fn presence(&self) -> &Presence;
    /// How many local listeners `channel` has.
    fn readers(&self, channel: &str) -> usize;
    /// Every channel with local listeners.
    fn channel_names(&self) -> Vec<ChannelName>;
}

/// The presence of one process: what changed since its last report. The counts
/// themselves are the fanout's.
pub(crate) struct Presence {
    pending: Mutex<Pending>,
    /// This process's name among those that share the broker.
    process: String,
    started: AtomicBool,
    anonymous: AtomicU64,
}

#[derive(Default)]
struct Pending {
    /// The channels whose count changed.
    changed: HashSet<ChannelName>,
    /// The members of views with presence on that came and went, by channel.
    news: HashMap<ChannelName, News>,
}

#[derive(Default)]
struct News {
    joined: Vec<Box<str>>,
    left: Vec<Box<str>>,
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
    pub(crate) fn new() -> Presence {
        Presence {
            pending: Mutex::default(),
            process: process_name(),
            started: AtomicBool::new(false),
            anonymous: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every critical section leaves the state whole.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's name in the broker's records.
    pub(crate) fn process(&self) -> &str {
        &self.process
    }

    /// A listener of `channel` came or went.
    pub(crate) fn changed(&self, channel: &ChannelName) {
        let mut pending = self.lock();
        if !pending.changed.contains(channel) {
            pending.changed.insert(channel.clone());
        }
    }

    /// The clients of `channels` are told `member` (or an anonymous name) joined, and
    /// that it left when the [`Membership`] is dropped.
    pub(crate) fn announce(
        &self,
        counts: Arc<dyn Counts>,
        channels: Vec<ChannelName>,
        member: Option<String>,
    ) -> Membership {
        let member: Box<str> = match member {
            Some(member) => member.into(),
            None => {
                let n = self.anonymous.fetch_add(1, Ordering::Relaxed);
                format!("anonymous:{}:{n}", self.process).into()
            }
        };
        let mut pending = self.lock();
        for channel in &channels {
            let news = pending.news.entry(channel.clone()).or_default();
            news.joined.push(member.clone());
        }
        drop(pending);
        Membership {
            counts,
            channels,
            member,
        }
    }

    fn leave(&self, channels: &[ChannelName], member: &str) {
        let mut pending = self.lock();
        for channel in channels {
            let news = pending.news.entry(channel.clone()).or_default();
            news.left.push(member.into());
        }
    }

    /// What changed since the last report, or, when `all`, every channel's count.
    fn take(&self, all: bool, counts: &dyn Counts) -> Vec<ChannelReport> {
        let (changed, mut news) = {
            let mut pending = self.lock();
            let changed = std::mem::take(&mut pending.changed);
            (changed, std::mem::take(&mut pending.news))
        };
        // A channel all of whose listeners left is no longer the fanout's: its count
        // of 0 is reported all the same.
        let mut names = changed;
        names.extend(news.keys().cloned());
        if all {
            names.extend(counts.channel_names());
        }
        names
            .into_iter()
            .map(|channel| {
                let count = counts.readers(channel.as_str());
                let members = news.remove(&channel).map(|news| news.json());
                ChannelReport {
                    channel,
                    count,
                    members,
                }
            })
            .collect()
    }

    /// Starts the task that reports, within the first stream's runtime.
    pub(crate) fn start<C: Counts>(&self, counts: &Arc<C>, broker: &Arc<dyn Broker>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(report(Arc::downgrade(counts), broker.clone()));
            }
            Err(_) => self.started.store(false, Ordering::Release),
        }
    }
}

impl News {
    /// `"joined":[...],"left":[...]`.
    fn json(&self) -> String {
        let list = |members: &[Box<str>]| serde_json::to_string(members).unwrap_or_default();
        format!(
            "\"joined\":{},\"left\":{}",
            list(&self.joined),
            list(&self.left)
        )
    }
}

/// An announced stream's presence on its channels; dropping it tells them it left.
pub(crate) struct Membership {
    counts: Arc<dyn Counts>,
    channels: Vec<ChannelName>,
    member: Box<str>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let presence = self.counts.presence();
        presence.leave(&self.channels, &self.member);
    }
}

/// Reports changes every `FLUSH` while there are any, and at least every `BEAT`, until
/// the hub is gone. A report that fails is made again in full.
async fn report<C: Counts>(counts: Weak<C>, broker: Arc<dyn Broker>) {
    let mut tick = tokio::time::interval(FLUSH);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut beaten = Instant::now();
    let mut synced = Instant::now();
    let mut resync = false;
    loop {
        tick.tick().await;
        let Some(counts) = counts.upgrade() else {
            return;
        };
        let presence = counts.presence();
        let all = resync || synced.elapsed() >= RESYNC;
        let changes = presence.take(all, &*counts);
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

/// The presence event of `channel` with `count` listeners and `members` came and went.
pub(crate) fn event(channel: &str, count: usize, members: &str) -> Encoded {
    let channel = serde_json::to_string(channel).unwrap_or_default();
    let data = format!("{{\"channel\":{channel},\"count\":{count},{members}}}");
    Encoded {
        id: None,
        bytes: Event::new().event(PRESENCE_EVENT).data(data).encode(),
    }
}

/// A name no other process sharing the broker has: the process id and the time, hashed
/// with a key of its own (`RandomState` is seeded at random) into 16 hex digits.
fn process_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(super::id::now_ms());
    format!("{:016x}", hasher.finish())
}
