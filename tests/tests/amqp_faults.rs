//! RabbitMQ closing every connection of the hubs (`rabbitmqctl close_all_connections`,
//! as a broker restart does): streams stay open, a send fails or succeeds, never
//! silently, and the listening hub reads on from where it stopped, so every event
//! whose send succeeded, before, during and after, arrives once and in order.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::rabbitmq::RabbitVhost;
use tests::{next_event, serve, Client, PATIENCE};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

const ROOMS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_survive_rabbitmq_closing_every_connection_and_miss_nothing_sent() {
    let vhost = RabbitVhost::create();
    let listening = Hub::builder().amqp_url(vhost.url()).build().unwrap();
    let sending = Hub::builder().amqp_url(vhost.url()).build().unwrap();
    let app: Router = sse_routes![Live].layer(Extension(listening));
    let addr = serve(app).await;
    let paths: Vec<String> = (0..ROOMS).map(|room| format!("/live/{room}")).collect();
    let clients = join_all(paths.iter().map(|path| Client::get(addr, path, &[]))).await;
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    let mut sent: Vec<Vec<String>> = vec![Vec::new(); ROOMS];
    for n in 0..10 {
        send(&sending, n, &mut sent).await;
    }
    vhost.close_connections();
    // Sending on: the first sends may fail, then the sending hub connects again.
    let closed = Instant::now();
    let mut n = 10;
    while closed.elapsed() < Duration::from_secs(2) || n < 40 {
        send(&sending, n, &mut sent).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (room, sent) in sent.iter().enumerate() {
        let last = sent.last().cloned();
        assert_eq!(
            last,
            Some((n - 1).to_string()),
            "room {room}: sends succeed again"
        );
    }
    for (room, stream) in streams.iter_mut().enumerate() {
        let who = format!("room {room}");
        let mut got = Vec::new();
        while got.len() < sent[room].len() {
            let event = next_event(stream, PATIENCE, &who).await;
            got.push(
                event
                    .unwrap_or_else(|| panic!("{who}: the stream stays open"))
                    .data,
            );
        }
        // An event whose send failed with an unknown outcome may be there too.
        got.retain(|data| sent[room].contains(data));
        assert_eq!(got, sent[room], "{who}: every event sent, once, in order");
    }
    assert_eq!(vhost.connections(), 2, "each hub connected again, once");
}

/// Sends event `n` to every room, noting where it succeeded.
async fn send(hub: &Hub, n: usize, sent: &mut [Vec<String>]) {
    for (room, sent) in sent.iter_mut().enumerate() {
        match hub
            .send_event("n", n.to_string(), &format!("room:{room}"))
            .await
        {
            Ok(()) => sent.push(n.to_string()),
            Err(Error::Amqp(_) | Error::AmqpOutcomeUnknown(_)) => {}
            Err(other) => panic!("a send fails as a RabbitMQ error: {other:?}"),
        }
    }
}
