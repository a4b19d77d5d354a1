//! Several channels in one stream (a feed): each event's type names its channel, its id
//! is a cursor that resumes every channel at once, a channel whose history moved on is
//! reset alone, and the number of channels a stream may follow is capped.

use std::time::Duration;

use axum::extract::Query;
use axum::{Extension, Router};
use eventsource_stream::Event;
use futures_util::StreamExt;
use sse_runtime::prelude::*;
use tests::backend::Backend;
use tests::{on_both_backends, serve, take_events, Client};

/// The channels the query names: `/feed?channel=a&channel=b`.
async fn named(Query(pairs): Query<Vec<(String, String)>>) -> Vec<String> {
    let channels = pairs.into_iter().filter(|(key, _)| key == "channel");
    channels.map(|(_, channel)| channel).collect()
}

/// The channels of the query, as one stream.
#[sse_view("/feed", channel = named)]
pub struct Feed;

/// A user's page: the news everyone reads and their own messages, on one stream.
#[sse_view("/users/{user}/feed", channels = ["news", "user:{user}"])]
pub struct UserFeed;

fn app(hub: &Hub) -> Router {
    sse_routes![Feed, UserFeed].layer(Extension(hub.clone()))
}

on_both_backends!(
    a_feed_resumes_every_channel_from_one_id_each_event_once_in_order,
    a_channel_whose_history_moved_on_is_reset_alone,
    a_stream_may_follow_so_many_channels_and_names_at_least_one,
    a_list_of_templates_in_the_attribute_is_a_feed,
    a_feed_takes_ids_as_long_as_its_cursor_can_be_and_refuses_what_is_no_cursor,
);

/// FNV-1a, 32 bits, in 8 hex digits: the test's own, from the published function.
fn fnv1a(name: &str) -> String {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}

/// `(type, data)` of each event.
fn seen(events: &[Event]) -> Vec<(String, String)> {
    let pairs = events
        .iter()
        .map(|event| (event.event.clone(), event.data.clone()));
    pairs.collect()
}

/// The events of `channel` among `events`, as the numbers sent.
fn of(events: &[(String, String)], channel: &str) -> Vec<String> {
    let kind = format!("{channel}/n");
    let matching = events.iter().filter(|(event, _)| *event == kind);
    matching.map(|(_, data)| data.clone()).collect()
}

async fn a_feed_resumes_every_channel_from_one_id_each_event_once_in_order(backend: Backend) {
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let send = |channel: &'static str, data: String| {
        let hub = hub.clone();
        async move { hub.send_event("n", data, channel).await.expect("sent") }
    };
    // `old` has history before the client comes, `new` has never had an event.
    for n in 0..3 {
        send("old", format!("before-{n}")).await;
    }
    let path = "/feed?channel=live&channel=old&channel=new";
    let client = Client::get(addr, path, &[]).await;
    assert_eq!(client.status, 200);
    let mut events = client.events();
    // Only `live` speaks while the client is there.
    for n in 0..4 {
        send("live", n.to_string()).await;
    }
    let first = take_events(&mut events, 4).await;
    assert_eq!(
        seen(&first),
        (0..4)
            .map(|n| ("live/n".to_owned(), n.to_string()))
            .collect::<Vec<_>>(),
        "the type is the channel, then the event's name"
    );
    let ids: Vec<&str> = first.iter().map(|event| event.id.as_str()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] != pair[1]), "{ids:?}");
    let last = first.last().expect("four").id.clone();
    // The cursor as the README documents it: per channel, in the order asked, FNV-1a of
    // its name, `:`, the last id of it the client has, `0-0` for one that held none.
    let entries: Vec<(&str, &str)> = last
        .split(',')
        .map(|entry| entry.split_once(':').expect("hash:id"))
        .collect();
    let hashes: Vec<&str> = entries.iter().map(|(hash, _)| *hash).collect();
    assert_eq!(
        hashes,
        [fnv1a("live"), fnv1a("old"), fnv1a("new")],
        "{last}"
    );
    assert_ne!(
        entries[1].1, "0-0",
        "old held events when the client came: {last}"
    );
    let why = "a channel's entry is the stream's position when the feed started, whether the channel held events or not: resumed, it reads the channel's events after it";
    if backend.gives(
        "a channel that held no event is 0-0 in the cursor",
        &[("amqp", why)],
    ) {
        assert_eq!(entries[2].1, "0-0", "new held none: {last}");
    }
    drop(events);

    // Back at once, while `new` has still had no event (on Redis its history's stream
    // does not exist): nothing to resume, and the stream stays open, neither ending nor
    // resetting `new`.
    let mut back = Client::get(addr, path, &[("last-event-id", &last)])
        .await
        .events();
    let quiet = tokio::time::timeout(Duration::from_millis(500), back.next()).await;
    assert!(
        quiet.is_err(),
        "nothing to resume, the stream open: {quiet:?}"
    );
    drop(back);

    // Away: every channel gets events, interleaved.
    for n in 4..9 {
        send("live", n.to_string()).await;
        send("old", n.to_string()).await;
        send("new", n.to_string()).await;
    }
    let client = Client::get(addr, path, &[("last-event-id", &last)]).await;
    let mut events = client.events();
    let missed = seen(&take_events(&mut events, 15).await);
    let numbers: Vec<String> = (4..9).map(|n| n.to_string()).collect();
    for channel in ["live", "old", "new"] {
        assert_eq!(of(&missed, channel), numbers, "{channel}: {missed:?}");
    }
    // Then live, and the id of each event resumes from there.
    send("new", "live-new".to_owned()).await;
    let event = take_events(&mut events, 1).await.remove(0);
    assert_eq!(
        (event.event.as_str(), event.data.as_str()),
        ("new/n", "live-new")
    );
    drop(events);
    send("old", "after".to_owned()).await;
    let client = Client::get(addr, path, &[("last-event-id", &event.id)]).await;
    let mut events = client.events();
    let event = take_events(&mut events, 1).await.remove(0);
    assert_eq!(
        (event.event.as_str(), event.data.as_str()),
        ("old/n", "after")
    );
    // The same cursor by query, for clients that cannot set headers; nothing else is
    // pending, so the next event is a new one.
    drop(events);
    let by_query = format!("{path}&lastEventId={}", event.id);
    let mut events = Client::get(addr, &by_query, &[]).await.events();
    send("live", "last".to_owned()).await;
    let event = take_events(&mut events, 1).await.remove(0);
    assert_eq!(
        (event.event.as_str(), event.data.as_str()),
        ("live/n", "last")
    );
}

async fn a_channel_whose_history_moved_on_is_reset_alone(backend: Backend) {
    let why = "its history is one stream for every channel, bounded in bytes and age, not in events a channel";
    if !backend.gives(
        "a channel's history moves on past 5 events",
        &[("amqp", why)],
    ) {
        return;
    }
    let hub = backend.hub_with(|hub| hub.history(5));
    let addr = serve(app(&hub)).await;
    let path = "/feed?channel=busy&channel=quiet";
    let mut events = Client::get(addr, path, &[]).await.events();
    hub.send_event("n", "q0", "quiet").await.unwrap();
    hub.send_event("n", "b0", "busy").await.unwrap();
    let last = take_events(&mut events, 2).await.remove(1).id;
    drop(events);
    // Redis trims `MAXLEN ~` by whole nodes of 100 entries: send well past that.
    for n in 1..300 {
        hub.send_event("n", format!("b{n}"), "busy").await.unwrap();
    }
    hub.send_event("n", "q1", "quiet").await.unwrap();
    let mut events = Client::get(addr, path, &[("last-event-id", &last)])
        .await
        .events();
    let got = seen(&take_events(&mut events, 2).await);
    assert_eq!(got[0].0, "busy/sse-reset", "{got:?}");
    assert!(
        got[0].1.contains("busy"),
        "the reset names its channel: {}",
        got[0].1
    );
    assert_eq!(got[1], ("quiet/n".to_owned(), "q1".to_owned()));
    hub.send_event("n", "live", "busy").await.unwrap();
    let live = take_events(&mut events, 1).await.remove(0);
    assert_eq!(
        (live.event.as_str(), live.data.as_str()),
        ("busy/n", "live")
    );
}

async fn a_stream_may_follow_so_many_channels_and_names_at_least_one(backend: Backend) {
    let hub = backend.hub_with(|hub| hub.stream_channels(3));
    let addr = serve(app(&hub)).await;
    let refused = Client::get(addr, "/feed?channel=a&channel=b&channel=c&channel=d", &[]).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.text().await,
        "the request names more than 3 channels, the most one stream may follow\n"
    );
    let none = Client::get(addr, "/feed", &[]).await;
    assert_eq!(none.status, 400);
    assert_eq!(none.text().await, "the request names no channel\n");
    let bad = Client::get(addr, "/feed?channel=a&channel=b%2Fc", &[]).await;
    assert_eq!(bad.status, 400);
    // A channel named twice is followed once: three names, two channels.
    let mut events = Client::get(addr, "/feed?channel=a&channel=b&channel=a&channel=b", &[])
        .await
        .events();
    hub.send_event("n", "1", "a").await.unwrap();
    hub.send_event("n", "2", "b").await.unwrap();
    let mut got = seen(&take_events(&mut events, 2).await);
    got.sort();
    assert_eq!(
        got,
        [
            ("a/n".to_owned(), "1".to_owned()),
            ("b/n".to_owned(), "2".to_owned())
        ]
    );
}

async fn a_list_of_templates_in_the_attribute_is_a_feed(backend: Backend) {
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let mut ann = Client::get(addr, "/users/ann/feed", &[]).await.events();
    let mut bob = Client::get(addr, "/users/bob/feed", &[]).await.events();
    hub.send_event("n", "for ann", "user:ann").await.unwrap();
    hub.send_event("n", "for all", "news").await.unwrap();
    hub.send_event("n", "for bob", "user:bob").await.unwrap();
    // Order is kept within a channel, not across channels.
    let mut got = seen(&take_events(&mut ann, 2).await);
    got.sort();
    assert_eq!(
        got,
        [
            ("news/n".to_owned(), "for all".to_owned()),
            ("user:ann/n".to_owned(), "for ann".to_owned())
        ]
    );
    let mut got = seen(&take_events(&mut bob, 2).await);
    got.sort();
    assert_eq!(
        got,
        [
            ("news/n".to_owned(), "for all".to_owned()),
            ("user:bob/n".to_owned(), "for bob".to_owned())
        ]
    );
    // What an event says beside its name and id goes through as sent.
    let retry = Duration::from_millis(3000);
    let event = sse_runtime::Event::new()
        .comment("note")
        .retry(retry)
        .data("r");
    hub.send("news", &event).await.unwrap();
    let got = take_events(&mut ann, 1).await.remove(0);
    assert_eq!((got.event.as_str(), got.data.as_str()), ("news", "r"));
    assert_eq!(got.retry, Some(retry));
    // A user name that makes no channel is refused at the door.
    let refused = Client::get(addr, "/users/a*b/feed", &[]).await;
    assert_eq!(refused.status, 400);
}

/// A feed accepts a `Last-Event-ID` as long as a cursor of the most channels can be (51
/// bytes a channel, 32 channels by default), and refuses one byte more; what is no cursor
/// (here a hash of seven hex digits, or one not hex) resets every channel.
async fn a_feed_takes_ids_as_long_as_its_cursor_can_be_and_refuses_what_is_no_cursor(
    backend: Backend,
) {
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let longest = "7".repeat(51 * 32);
    let taken = Client::get(addr, "/feed?channel=a", &[("last-event-id", &longest)]).await;
    let status = taken.status;
    assert_eq!(status, 200, "{}", taken.text().await);
    let one_more = format!("{longest}7");
    let refused = Client::get(addr, "/feed?channel=a", &[("last-event-id", &one_more)]).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.text().await,
        "bad Last-Event-ID: it is longer than the cursor of a stream of the most channels"
    );
    for no_cursor in ["e40c292:1-0", "e40c292g:1-0", "1795894456642-0"] {
        let resume = [("last-event-id", no_cursor)];
        let client = Client::get(addr, "/feed?channel=a&channel=b", &resume);
        let mut events = client.await.events();
        let mut got = seen(&take_events(&mut events, 2).await);
        got.sort();
        let kinds: Vec<&str> = got.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds, ["a/sse-reset", "b/sse-reset"], "for {no_cursor}");
    }
}

/// What another program publishes on a channel of a feed (a plain payload, the seed's
/// `json.dumps([event, data])`, one with an id of its own) reaches the client, typed by
/// its channel, and leaves the cursor where the hub's last event put it: resuming from
/// it replays none of them and misses nothing the hub sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_other_programs_publish_reaches_a_feed_and_leaves_its_cursor() {
    let backend = Backend::redis();
    let redis = backend.redis.as_ref().expect("a Redis backend");
    let hub = backend.hub();
    let addr = serve(app(&hub)).await;
    let path = "/feed?channel=a&channel=b";
    let mut events = Client::get(addr, path, &[]).await.events();
    let publish = |channel: &str, payload: &str| {
        let received = redis
            .query(&["PUBLISH", channel, payload])
            .expect("PUBLISH");
        assert_eq!(received, redis::Value::Int(1), "one subscriber got it");
    };
    hub.send_event("n", "one", "a").await.expect("sent");
    let first = take_events(&mut events, 1).await.remove(0);
    publish("b", "plain");
    publish("b", r#"["greet", "hi"]"#);
    publish(
        "a",
        r#"{"$sse":1,"id":"99999999999999-0","data":"far future"}"#,
    );
    hub.send_event("n", "two", "b").await.expect("sent");
    let got = take_events(&mut events, 4).await;
    // Send order holds within a channel; the two channels may interleave either way.
    let heard_on = |channel: &str| -> Vec<(String, String)> {
        let on = |kind: &str| kind == channel || kind.starts_with(&format!("{channel}/"));
        seen(&got)
            .into_iter()
            .filter(|(kind, _)| on(kind))
            .collect()
    };
    assert_eq!(heard_on("a"), [("a".to_owned(), "far future".to_owned())]);
    assert_eq!(
        heard_on("b"),
        [
            ("b".to_owned(), "plain".to_owned()),
            ("b/greet".to_owned(), "hi".to_owned()),
            ("b/n".to_owned(), "two".to_owned()),
        ]
    );
    // Foreign events carry no id: the cursor stays the hub's (a browser keeps the last
    // id it was given).
    let mut cursor = &first.id;
    for event in &got {
        if event.event == "b/n" {
            cursor = &event.id;
        } else {
            assert!(
                event.id.is_empty() || event.id == *cursor,
                "{:?} moved the cursor from {cursor:?}",
                event.id,
            );
        }
    }
    let last = cursor;
    let entry = |cursor: &str, channel: &str| {
        let hash = fnv1a(channel);
        let found = cursor.split(',').find(|entry| entry.starts_with(&hash));
        found.map(str::to_owned)
    };
    assert_eq!(entry(last, "a"), entry(&first.id, "a"), "a: {last}");
    assert_ne!(entry(last, "b"), entry(&first.id, "b"), "b moved: {last}");
    drop(events);
    hub.send_event("n", "three", "a").await.expect("sent");
    let mut events = Client::get(addr, path, &[("last-event-id", last)])
        .await
        .events();
    let resumed = take_events(&mut events, 1).await;
    assert_eq!(seen(&resumed), [("a/n".to_owned(), "three".to_owned())]);
}

/// A resolver's list of one channel is still a feed: its events are typed by their
/// channel and carry a cursor, as with two (not a single channel's frames).
#[tokio::test]
async fn a_feed_of_one_channel_is_still_a_feed() {
    let hub = Hub::embedded();
    let addr = serve(app(&hub)).await;
    let mut events = Client::get(addr, "/feed?channel=solo", &[]).await.events();
    hub.send_event("n", "1", "solo").await.expect("sent");
    let got = take_events(&mut events, 1).await;
    assert_eq!(seen(&got), [("solo/n".to_owned(), "1".to_owned())]);
    let cursor = format!("{}:", fnv1a("solo"));
    assert!(got[0].id.starts_with(&cursor), "a cursor: {}", got[0].id);
}
