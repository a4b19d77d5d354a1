//! A broker that drops every connection of the hubs, on every backend from one
//! definition: Redis and each node of a Redis Cluster kill their clients (`CLIENT KILL
//! TYPE normal` and `TYPE pubsub`), RabbitMQ closes them (`rabbitmqctl
//! close_all_connections`, as a broker restart does). Streams stay open, a send fails
//! or succeeds, never silently, and the listening hub fills the gap (Redis: from each
//! channel's history; RabbitMQ: reading on from its last position), so every event
//! whose send succeeded, before, during and after, arrives once and in order.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use futures_util::future::join_all;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::backend::Backend;
use tests::{
    next_event, on_both_backends, serve, take_events, take_events_within, Client, PATIENCE,
};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

const ROOMS: usize = 3;

on_both_backends!(a_broker_that_drops_every_connection_loses_no_event_whose_send_succeeded);

async fn a_broker_that_drops_every_connection_loses_no_event_whose_send_succeeded(
    backend: Backend,
) {
    if !backend.gives(
        "a broker that drops its connections",
        &[("embedded", "it has no broker")],
    ) {
        return;
    }
    let listening = backend.hub();
    let sending = backend.hub();
    let app: Router = sse_routes![Live].layer(Extension(listening));
    let addr = serve(app).await;
    let paths: Vec<String> = (0..ROOMS).map(|room| format!("/live/{room}")).collect();
    let clients = join_all(paths.iter().map(|path| Client::get(addr, path, &[]))).await;
    let mut streams: Vec<_> = clients.into_iter().map(Client::events).collect();
    let mut sent: Vec<Vec<String>> = vec![Vec::new(); ROOMS];
    for n in 0..10 {
        send(&sending, n, &mut sent).await;
    }
    assert!(
        sent.iter().all(|sent| sent.len() == 10),
        "sent before the fault"
    );
    backend.drop_connections();
    // Sending on: the first sends may fail, then the sending hub connects again.
    let dropped = Instant::now();
    let mut n = 10;
    while dropped.elapsed() < Duration::from_secs(2) || n < 40 {
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
        let who = format!("room {room} on {}", backend.name());
        let mut got = Vec::new();
        while got.last() != sent[room].last() {
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
    if let Some(amqp) = &backend.amqp {
        assert_eq!(amqp.connections(), 2, "each hub connected again, once");
    }
}

/// Sends event `n` to every room, noting where it succeeded.
async fn send(hub: &Hub, n: usize, sent: &mut [Vec<String>]) {
    for (room, sent) in sent.iter_mut().enumerate() {
        match hub
            .send_event("n", n.to_string(), &format!("room:{room}"))
            .await
        {
            Ok(()) => sent.push(n.to_string()),
            Err(
                Error::Redis(_)
                | Error::OutcomeUnknown(_)
                | Error::Amqp(_)
                | Error::AmqpOutcomeUnknown(_),
            ) => {}
            Err(other) => panic!("a send fails as a broker's error: {other:?}"),
        }
    }
}

/// A keyed send that failed for want of RabbitMQ (its virtual host not made yet) was not
/// sent, so its key stays free: once the host is there, the same send with the same key
/// reaches the client, and a third is the retry of a sent one, which sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_send_rabbitmq_could_not_take_is_sent_by_its_retry_on_amqp() {
    let vhost = tests::rabbitmq::RabbitVhost::not_made();
    let hub = Hub::builder().amqp_url(vhost.url()).build().unwrap();
    let event = Event::new().event("n").data("keyed");
    let failed = hub.send_idempotent("room:0", &event, "order-1").await;
    assert!(
        matches!(failed, Err(Error::Amqp(_))),
        "no virtual host, so not sent: {failed:?}"
    );
    vhost.make();
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let mut events = Client::get(addr, "/live/0", &[]).await.events();
    hub.send_idempotent("room:0", &event, "order-1")
        .await
        .expect("the retry is sent");
    hub.send_idempotent("room:0", &event, "order-1")
        .await
        .expect("a retry of a sent event succeeds");
    hub.send_event("n", "next", "room:0").await.unwrap();
    let got = take_events(&mut events, 2).await;
    let data: Vec<&str> = got.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(
        data,
        ["keyed", "next"],
        "the keyed event once, then the next"
    );
}

/// A RabbitMQ connection gone silent (open, and nothing comes back: a broker that hangs,
/// a dead NAT entry) is given up at the timeout: the send on it has an unknown outcome,
/// and the next opens one new connection, on which it is sent, rather than waiting a
/// timeout on the silent one again until lapin's heartbeat notices, a minute later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_connection_gone_silent_is_given_up_at_its_timeout_on_amqp() {
    let vhost = tests::rabbitmq::RabbitVhost::create();
    let relay = tests::relay::Relay::start(tests::rabbitmq::ADDR.parse().unwrap()).await;
    let hub = Hub::builder()
        .amqp_url(vhost.url_via(relay.addr()))
        .redis_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    hub.send_event("n", "before", "room:0").await.expect("sent");
    assert_eq!(relay.accepted(), 1, "one connection");
    relay.stall();
    let silent = hub.send_event("n", "unanswered", "room:0").await;
    assert!(
        matches!(silent, Err(Error::AmqpOutcomeUnknown(_))),
        "written, and no confirmation: {silent:?}"
    );
    hub.send_event("n", "after", "room:0")
        .await
        .expect("the next send, on a new connection");
    assert_eq!(relay.accepted(), 2, "one new connection, for the next send");
}

/// The live reader on a RabbitMQ connection gone silent gives it up after two of the
/// heartbeats the hub asks for (10 s each where the URL names none; RabbitMQ's own 60 s
/// would leave it deaf for two minutes), reads on from where it stood on a new
/// connection, and the client, its stream open all along, gets what was sent meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_reader_on_a_silent_rabbitmq_connection_reads_on_after_two_heartbeats_on_amqp() {
    let vhost = tests::rabbitmq::RabbitVhost::create();
    let relay = tests::relay::Relay::start(tests::rabbitmq::ADDR.parse().unwrap()).await;
    let listening = Hub::builder()
        .amqp_url(vhost.url_via(relay.addr()))
        .build()
        .unwrap();
    let sending = Hub::builder().amqp_url(vhost.url()).build().unwrap();
    let app: Router = sse_routes![Live].layer(Extension(listening.clone()));
    let addr = serve(app).await;
    let mut events = Client::get(addr, "/live/0", &[]).await.events();
    sending.send_event("n", "before", "room:0").await.unwrap();
    assert_eq!(take_events(&mut events, 1).await[0].data, "before");

    let accepted = relay.accepted();
    relay.stall();
    sending
        .send_event("n", "meanwhile", "room:0")
        .await
        .unwrap();
    // Two heartbeats of 10 s, and lapin's check every 5 s: at most 25 s.
    let got = take_events_within(&mut events, 1, Duration::from_secs(40)).await;
    assert_eq!(got[0].data, "meanwhile", "on the stream it had");
    assert_eq!(relay.accepted(), accepted + 1, "one new connection");
}
