//! Every typed form: the derive on structs and enums of each shape, typed and untyped
//! publishers, typed parameters, and typed events from both view forms.
#![deny(warnings, missing_docs)]

use sse_runtime::prelude::*;
use sse_runtime::TypedChannel;

/// What a room's clients hear.
#[derive(SseEvent)]
pub enum ChatEvent {
    /// Someone joined.
    Joined {
        /// Who.
        name: String,
    },
    /// Someone left.
    #[sse(event = "left-room")]
    Left(String),
    /// A ping.
    Pinged,
}

/// A tick with an id.
#[derive(SseEvent)]
pub struct Tick(#[sse(id)] u64, &'static str);

/// A room, by number.
#[sse_view("/rooms/{room}", channel = "room:{room}", event = ChatEvent, params(room: u32))]
pub struct Room;

/// A game's team: two parameters, one typed.
#[sse_view("/games/{game}/{team}", channel = "game:{game}:{team}", params(game: u64))]
pub struct Team;

/// Ticks, typed, from a buffer view.
#[sse_view("/ticks")]
async fn ticks(sse: &mut Sse) -> Result<(), sse_runtime::Error> {
    sse.send_typed(&Tick(1, "now")).await
}

/// Chat events from a stream view.
#[sse_view("/joins")]
fn joins() -> impl Stream<Item = Result<ChatEvent, std::io::Error>> {
    stream! {
        yield Ok(ChatEvent::Joined { name: "ann".into() });
    }
}

async fn publish(hub: &Hub) -> Result<(), sse_runtime::Error> {
    let room: TypedChannel<ChatEvent> = Room::channel(&7);
    room.send(&ChatEvent::Pinged).await?;
    Room::channel_on(hub, &8).send(&ChatEvent::Left("ann".into())).await?;
    let team: TypedChannel<Event> = Team::channel(&3, "red");
    team.send(&Event::new().data("go")).await
}

fn main() {
    let _app: axum::Router = sse_routes![Room, Team, ticks, joins];
    let _ = publish;
}
