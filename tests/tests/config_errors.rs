//! A process whose `SSE_REDIS_URL` cannot be used: its channel views answer 503 with a
//! plain reason, and sends say what is wrong once. (A binary of its own: it sets the
//! environment before the process's hub is made from it.)

use axum::Router;
use sse_runtime::prelude::*;
use tests::{serve, Client};

/// The seed's view of channel `foo`, on the process's hub.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

#[tokio::test]
async fn a_hub_whose_url_cannot_be_used_refuses_with_a_reason() {
    // Before anything makes the process's hub.
    std::env::set_var("SSE_REDIS_URL", "http://127.0.0.1:6379");
    let refused = send_event("myevent", "mydata", "foo").await.unwrap_err();
    let message = refused.to_string();
    assert!(
        message
            .starts_with("bad configuration: the Redis URL `http://127.0.0.1:6379` cannot be used")
            && !message.contains("bad configuration: bad configuration"),
        "{message}"
    );
    let app: Router = sse_routes![Stream1];
    let addr = serve(app).await;
    let mut client = Client::get(addr, "/stream1/", &[]).await;
    assert_eq!(client.status, 503);
    let body = client
        .frame_within(tests::PATIENCE)
        .await
        .expect("a reason");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "the server's event hub is misconfigured; its log says how\n"
    );
}
