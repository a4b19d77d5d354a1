//! RabbitMQ's live reader through a broker that goes away and refuses the hub for a
//! while: it says so once (a log line and `sse_broker_connected 0`), retries with a
//! backoff that grows, says it is back once it has read up to where the stream stands,
//! and the streams open meanwhile go on. A binary of its own: the log lines and the
//! metrics it counts are the process's.

use std::time::{Duration, Instant};

use axum::{Extension, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sse_runtime::prelude::*;
use tests::rabbitmq::{RabbitVhost, ADDR};
use tests::relay::Relay;
use tests::{logs, serve, take_events, Client};

/// A channel per room.
#[sse_view("/live/{room}", channel = "room:{room}")]
pub struct Live;

/// How long RabbitMQ refuses the hub.
const REFUSED: Duration = Duration::from_secs(2);

/// `sse_broker_connected` as the recorder renders it, if it was set.
fn connected(metrics: &PrometheusHandle) -> Option<String> {
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix("sse_broker_connected "))
        .map(str::to_owned)
}

/// Waits, a bounded time, for `sse_broker_connected` to read `value`.
async fn until_connected_reads(metrics: &PrometheusHandle, value: &str, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while connected(metrics).as_deref() != Some(value) {
        assert!(
            Instant::now() < deadline,
            "{why}: sse_broker_connected is {:?}, not {value}",
            connected(metrics)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_refusing_the_hub_is_retried_with_backoff_and_said_once_on_amqp() {
    logs::capture();
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the test binary's recorder");
    let vhost = RabbitVhost::create();
    let relay = Relay::start(ADDR.parse().unwrap()).await;
    let hub = Hub::builder()
        .amqp_url(vhost.url_via(relay.addr()))
        .build()
        .unwrap();
    let app: Router = sse_routes![Live].layer(Extension(hub.clone()));
    let addr = serve(app).await;
    let mut events = Client::get(addr, "/live/0", &[]).await.events();

    // Nothing sent yet: the reader is connected once it has read its own marker.
    until_connected_reads(&metrics, "1", "an idle stream's reader, started").await;
    hub.send_event("n", "before", "room:0").await.unwrap();
    assert_eq!(take_events(&mut events, 1).await[0].data, "before");

    relay.refuse(true);
    let asked_before = relay.accepted();
    relay.cut();
    until_connected_reads(&metrics, "0", "the connection cut").await;
    tokio::time::sleep(REFUSED).await;
    let attempts = relay.accepted() - asked_before;
    relay.refuse(false);
    // A backoff from 100 ms, doubling, makes five attempts or so in two seconds; one
    // that does not grow makes hundreds.
    assert!(
        (1..=10).contains(&attempts),
        "{attempts} connection attempts while RabbitMQ refused the hub for {REFUSED:?}"
    );

    // Nothing sent meanwhile: back once it has read up to its marker again.
    until_connected_reads(&metrics, "1", "the reader, back").await;
    hub.send_event("n", "after", "room:0").await.unwrap();
    assert_eq!(
        take_events(&mut events, 1).await[0].data,
        "after",
        "on the stream the client had before"
    );
    let lost = logs::containing("lost the RabbitMQ stream");
    let back = logs::containing("the RabbitMQ stream is back");
    assert_eq!(
        (lost.len(), back.len()),
        (1, 1),
        "one line per transition, not per attempt: {lost:?} {back:?}"
    );
}
