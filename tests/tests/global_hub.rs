//! `Hub::set_global`: the hub a process installs is the one `send_event` and views
//! without an `Extension<Hub>` use. (A binary of its own: the process's hub is set once.)

use axum::Router;
use sse_runtime::prelude::*;
use sse_runtime::Error;
use tests::{serve, take_events, Client};

/// The seed's view of channel `foo`, on the process's hub.
#[sse_view("/stream1/", channel = "foo")]
pub struct Stream1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_set_as_the_process_s_is_the_one_sends_and_views_use() {
    // Told apart from the hub the environment would make by its limit on an event.
    let hub = Hub::builder().max_event(64).build().expect("a hub");
    let installed = hub.clone();
    hub.set_global()
        .expect("nothing made the process's hub before");
    let second = Hub::embedded().set_global();
    assert!(second.is_err(), "a second hub is handed back");

    let app: Router = sse_routes![Stream1];
    let addr = serve(app).await;
    let mut events = Client::get(addr, "/stream1/", &[]).await.events();
    send_event("myevent", "mydata", "foo").await.expect("sent");
    let got = take_events(&mut events, 1).await;
    assert_eq!(
        (got[0].event.as_str(), got[0].data.as_str()),
        ("myevent", "mydata")
    );
    assert_eq!(
        installed.presence("foo").await.unwrap(),
        1,
        "the view's stream is on it"
    );
    // Its limit holds, to the byte: a name of 3 and data of 61 fit in 64, one more not.
    send_event("big", "x".repeat(61), "foo")
        .await
        .expect("64 bytes fit");
    let refused = send_event("big", "x".repeat(62), "foo").await;
    assert!(
        matches!(refused, Err(Error::TooLarge { size: 65, max: 64 })),
        "{refused:?}"
    );
}
