//! After `sse_runtime::shutdown()`, a new stream of any kind is answered `503` with
//! `Retry-After: 1` and the reason, and the streams that were open have ended. (A binary
//! of its own: the shutdown is the process's.)

use std::time::Duration;

use axum::{Extension, Router};
use sse_runtime::prelude::*;
use tests::{serve, Client, PATIENCE};

/// A generator view that says hello and stays open.
#[sse_view("/hello")]
async fn hello(sse: &mut Sse) {
    sse.add_message("hello", "x");
    sse.flush().await;
    std::future::pending::<()>().await;
}

/// A channel view.
#[sse_view("/news", channel = "news")]
pub struct News;

/// A stream view.
#[sse_view("/ticks")]
fn ticks() -> impl Stream<Item = Event> {
    stream! {
        yield Event::new().data("tick");
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn after_a_shutdown_every_new_stream_is_refused_and_the_open_ones_have_ended() {
    let app: Router = sse_routes![hello, News, ticks].layer(Extension(Hub::embedded()));
    let addr = serve(app).await;
    let mut open = Client::get(addr, "/hello", &[]).await;
    assert_eq!(
        open.frame_within(PATIENCE).await.as_deref(),
        Some(&b"event: hello\ndata: x\n\n"[..])
    );

    sse_runtime::shutdown();

    // The open stream ends, with a last `retry:` between 1 and 5 s.
    let mut rest = Vec::new();
    while let Some(frame) = open.frame_within(PATIENCE).await {
        rest.extend_from_slice(&frame);
    }
    let rest = String::from_utf8(rest).unwrap();
    let retry: u64 = rest
        .strip_prefix("retry: ")
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("a last retry: {rest:?}"));
    assert!((1_000..=5_000).contains(&retry), "{retry}");

    for path in ["/hello", "/news", "/ticks"] {
        let mut refused = Client::get(addr, path, &[]).await;
        assert_eq!(refused.status, 503, "{path}");
        assert_eq!(refused.headers["retry-after"], "1", "{path}");
        let body = refused
            .frame_within(Duration::from_secs(2))
            .await
            .unwrap_or_default();
        assert_eq!(&body[..], b"the server is shutting down\n", "{path}");
    }
}
