//! Typed events and typed channels over real TCP, read with the test kit (`sse-test`):
//! what `#[derive(SseEvent)]` puts on the wire, a channel view's publisher reaching its
//! clients (and no one else's), a resume, typed path parameters read the same way on both
//! sides, and typed events from both view forms.

use std::time::Duration;

use axum::Extension;
use sse_runtime::prelude::*;
use sse_runtime::TypedChannel;
use sse_test::TestServer;
use tests::{serve, Client, PATIENCE};

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
    let server = TestServer::start(sse_routes![Room, Lobby]).await;
    let mut seven = server.get("/rooms/7").await;
    let mut eight = server.get("/rooms/8").await;
    // The path parameter is read as the `u32` it is typed: `007` is room 7.
    let mut also_seven = server.get("/rooms/007").await;

    let room: TypedChannel<ChatEvent> = Room::channel_on(server.hub(), &7);
    assert_eq!(room.name(), "room:7");
    let said = ChatEvent::Said {
        name: "ann".into(),
        text: "hi".into(),
    };
    room.send(&said).await.unwrap();
    Room::channel_on(server.hub(), &8)
        .send(&ChatEvent::Pinged)
        .await
        .unwrap();

    seven.expect(&said).await;
    also_seven.expect(&said).await;
    eight.expect(&ChatEvent::Pinged).await;
    // Room 7's clients hear nothing of room 8's event, however long they wait.
    seven.assert_quiet(Duration::from_millis(300)).await;

    // An untyped channel view's publisher sends `Event`s.
    let mut lobby = server.get("/lobby").await;
    let welcome = Event::new().data("welcome");
    Lobby::channel_on(server.hub())
        .send(&welcome)
        .await
        .unwrap();
    lobby.expect(&welcome).await;
}

#[tokio::test]
async fn a_reconnecting_client_resumes_after_the_last_typed_event_it_saw() {
    let server = TestServer::start(sse_routes![Room]).await;
    let mut client = server.get("/rooms/3").await;
    let room = Room::channel_on(server.hub(), &3);
    room.send(&ChatEvent::Joined { name: "ann".into() })
        .await
        .unwrap();
    client
        .expect(&ChatEvent::Joined { name: "ann".into() })
        .await;
    let mut client = client.reconnect().await;
    room.send(&ChatEvent::Left("ann".into())).await.unwrap();
    client.expect(&ChatEvent::Left("ann".into())).await;
    client.assert_quiet(Duration::from_millis(200)).await;
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
    let server = TestServer::start(sse_routes![ticks, chat_stream]).await;
    let mut ticks = server.get("/ticks").await;
    ticks.expect(&Tick { seq: 1, at: "noon" }).await;
    ticks
        .expect(&Tick {
            seq: 2,
            at: "later",
        })
        .await;
    ticks.assert_ends().await;

    let mut chat = server.get("/chat-stream").await;
    chat.expect(&ChatEvent::Joined { name: "ann".into() }).await;
    chat.expect(&ChatEvent::Left("ann".into())).await;
    chat.assert_ends().await;
}
