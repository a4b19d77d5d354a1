//! `--scenario typed`: the CPU of a typed send (`Room::channel_on(&hub, &room).send(&e)`)
//! against `Hub::send_json` of the same value, in this process, rounds alternating so
//! that both see the same machine. The hub is embedded and its router is served; no
//! client listens, so what is measured is the send itself (encoding, the channel name,
//! the history), not a client's reading.

use serde::Serialize;
use sse_runtime::prelude::*;

use crate::child::cpu_seconds;

/// A chat message: the typed event.
#[derive(SseEvent)]
enum RoomEvent {
    Said { name: String, text: String },
}

/// The same message for `send_json`.
#[derive(Serialize)]
struct Said {
    name: String,
    text: String,
}

/// A room's channel view: its publisher is what a typed send goes through.
#[sse_view("/rooms/{room}", channel = "room:{room}", event = RoomEvent, params(room: u32))]
pub(crate) struct Room;

const SENDS: u32 = 300_000;
const ROUNDS: usize = 5;

/// Runs the rounds and prints each and the ratio of the totals.
pub(crate) async fn run() {
    let hub = Hub::embedded();
    let _server = sse_test::TestServer::start_with_hub(sse_routes![Room], hub.clone()).await;
    let room = 7_u32;
    let (mut typed_total, mut json_total) = (0.0, 0.0);
    for round in 0..ROUNDS {
        let before = cpu_seconds("self");
        for n in 0..SENDS {
            let event = RoomEvent::Said {
                name: "ann".to_owned(),
                text: format!("message {n}"),
            };
            Room::channel_on(&hub, &room)
                .send(&event)
                .await
                .expect("send");
        }
        let typed = cpu_seconds("self") - before;
        let before = cpu_seconds("self");
        for n in 0..SENDS {
            let said = Said {
                name: "ann".to_owned(),
                text: format!("message {n}"),
            };
            hub.send_json("said", &said, &format!("room:{room}"))
                .await
                .expect("send");
        }
        let json = cpu_seconds("self") - before;
        println!(
            "typed  round {round}: typed send {:.3} s, send_json {:.3} s for {SENDS} sends each: {:.2}",
            typed,
            json,
            typed / json.max(1e-9)
        );
        typed_total += typed;
        json_total += json;
    }
    println!(
        "typed  a typed send against send_json of the same value: cpu {:.2} ({} rounds of {SENDS})",
        typed_total / json_total.max(1e-9),
        ROUNDS
    );
}
