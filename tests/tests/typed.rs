//! Typed events and typed channels over real TCP: what `#[derive(SseEvent)]` puts on the
//! wire, a channel view's publisher reaching its clients (and no one else's), typed path
//! parameters read the same way on both sides, and typed events from both view forms.

use std::time::Duration;

use axum::Extension;
use sse_runtime::prelude::*;
use sse_runtime::TypedChannel;
use tests::{serve, take_events, Client, PATIENCE};

#[derive(SseEvent, Debug, Clone)]
enum ChatEvent {
    Joined {
        name: String,
    },
    Said {
        name: String,
        text: String,
    },
    #[sse(event = "left-room")]
    Left(String),
    Pinged,
    Moved(u32, u32),
}

#[derive(SseEvent)]
#[sse(event = "tick")]
struct Tick {
    #[sse(id)]
    seq: u64,
    at: &'static str,
}

/// A room's chat: its channel carries `ChatEvent`s, its rooms are numbers.
#[sse_view("/rooms/{room}", channel = "room:{room}", event = ChatEvent, params(room: u32))]
pub struct Room;

/// An untyped channel view.
#[sse_view("/lobby", channel = "lobby")]
pub struct Lobby;

#[sse_view("/ticks")]
async fn ticks(sse: &mut Sse) -> Result<(), sse_runtime::Error> {
    sse.add_typed(&Tick { seq: 1, at: "noon" })?;
    sse.send_typed(&Tick {
        seq: 2,
        at: "later",
    })
    .await
}

#[sse_view("/chat-stream")]
fn chat_stream() -> impl Stream<Item = ChatEvent> {
    stream! {
        yield ChatEvent::Joined { name: "ann".into() };
        yield ChatEvent::Left("ann".into());
    }
}

/// Every kind of variant, as an `EventSource` would see it.
#[test]
fn the_derive_names_each_variant_and_serializes_its_fields() {
    let cases = [
        (
            ChatEvent::Joined { name: "ann".into() },
            "joined",
            r#"{"name":"ann"}"#,
        ),
        (
            ChatEvent::Said {
                name: "ann".into(),
                text: "hi\nthere".into(),
            },
            "said",
            r#"{"name":"ann","text":"hi\nthere"}"#,
        ),
        (ChatEvent::Left("bob".into()), "left-room", r#""bob""#),
        (ChatEvent::Pinged, "pinged", "{}"),
        (ChatEvent::Moved(3, 4), "moved", "[3,4]"),
    ];
    for (value, name, data) in cases {
        let event = value.to_event().unwrap();
        assert_eq!(event.name(), Some(name), "{value:?}");
        assert_eq!(event.data_str(), Some(data), "{value:?}");
        assert_eq!(event.id_str(), None);
    }
    assert_eq!(
        <ChatEvent as SseEvent>::NAMES,
        ["joined", "said", "left-room", "pinged", "moved"]
    );
    let tick = Tick { seq: 7, at: "noon" }.to_event().unwrap();
    assert_eq!(
        String::from_utf8(tick.encode().to_vec()).unwrap(),
        "event: tick\nid: 7\ndata: {\"at\":\"noon\"}\n\n"
    );
}

#[tokio::test]
async fn a_typed_publisher_reaches_the_clients_of_its_room_and_no_other() {
    let hub = Hub::embedded();
    let app = sse_routes![Room, Lobby].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let seven = Client::get(addr, "/rooms/7", &[]).await;
    let eight = Client::get(addr, "/rooms/8", &[]).await;
    // The path parameter is read as the `u32` it is typed: `007` is room 7.
    let also_seven = Client::get(addr, "/rooms/007", &[]).await;
    let (mut seven, mut eight, mut also_seven) =
        (seven.events(), eight.events(), also_seven.events());
    wait_for_listeners(&hub, 2).await;

    let room: TypedChannel<ChatEvent> = Room::channel_on(&hub, &7);
    assert_eq!(room.name(), "room:7");
    room.send(&ChatEvent::Said {
        name: "ann".into(),
        text: "hi".into(),
    })
    .await
    .unwrap();
    Room::channel_on(&hub, &8)
        .send(&ChatEvent::Pinged)
        .await
        .unwrap();

    for events in [&mut seven, &mut also_seven] {
        let got = take_events(events, 1).await;
        assert_eq!(
            (&*got[0].event, &*got[0].data),
            ("said", r#"{"name":"ann","text":"hi"}"#)
        );
    }
    let got = take_events(&mut eight, 1).await;
    assert_eq!(&*got[0].event, "pinged");
    // Room 7's clients heard nothing of room 8's event, however long they wait.
    let late = tokio::time::timeout(
        Duration::from_millis(300),
        futures_util::StreamExt::next(&mut seven),
    )
    .await;
    assert!(late.is_err(), "room 7 heard {late:?}");

    // An untyped channel view's publisher sends `Event`s.
    let lobby = Client::get(addr, "/lobby", &[]).await;
    let mut lobby = lobby.events();
    wait_for_listeners(&hub, 3).await;
    Lobby::channel_on(&hub)
        .send(&Event::new().data("welcome"))
        .await
        .unwrap();
    assert_eq!(take_events(&mut lobby, 1).await[0].data, "welcome");
}

#[tokio::test]
async fn a_typed_parameter_that_does_not_parse_is_a_400_with_the_reason() {
    let addr = serve(sse_routes![Room].layer(Extension(Hub::embedded()))).await;
    let mut client = Client::get(addr, "/rooms/kitchen", &[]).await;
    assert_eq!(client.status, 400);
    let body = client.frame_within(PATIENCE).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("bad path parameter `room`"), "{body}");
}

#[tokio::test]
async fn both_view_forms_send_typed_events() {
    let addr = serve(sse_routes![ticks, chat_stream]).await;
    let got = take_events(&mut Client::get(addr, "/ticks", &[]).await.events(), 3).await;
    let seen: Vec<(&str, &str, &str)> = got.iter().map(|e| (&*e.event, &*e.data, &*e.id)).collect();
    assert_eq!(
        seen,
        [
            ("tick", r#"{"at":"noon"}"#, "1"),
            ("tick", r#"{"at":"later"}"#, "2")
        ]
    );

    let got = take_events(
        &mut Client::get(addr, "/chat-stream", &[]).await.events(),
        3,
    )
    .await;
    let seen: Vec<(&str, &str)> = got.iter().map(|e| (&*e.event, &*e.data)).collect();
    assert_eq!(
        seen,
        [("joined", r#"{"name":"ann"}"#), ("left-room", r#""ann""#)]
    );
}

/// Waits until `hub` has `count` channels with listeners.
async fn wait_for_listeners(hub: &Hub, count: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while hub.listened_channels() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listeners did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
