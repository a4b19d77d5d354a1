//! A router served on `127.0.0.1:0` by `sse_runtime::serve`, with a hub of its own.

use std::net::SocketAddr;

use axum::{Extension, Router};
use sse_runtime::Hub;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::stream::EventStream;

/// A router on a loopback port; it stops when dropped.
///
/// Channel views of the router use the server's own embedded hub (an `Extension(Hub)`
/// layer): send to it with [`TestServer::hub`], e.g. `View::channel_on(server.hub(),
/// ..)`, so tests running at once do not hear each other.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    hub: Hub,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `app` with a new embedded hub.
    pub async fn start(app: Router) -> TestServer {
        TestServer::start_with_hub(app, Hub::embedded()).await
    }

    /// Serves `app` with `hub` (a Redis hub, one with other bounds).
    pub async fn start_with_hub(app: Router, hub: Hub) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("sse-test: bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("sse-test: the listener's address");
        let app = app.layer(Extension(hub.clone()));
        let task = tokio::spawn(async move {
            if let Err(error) = sse_runtime::serve(listener, app).await {
                panic!("sse-test: the server stopped: {error}");
            }
        });
        TestServer { addr, hub, task }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Opens `GET path` as an `EventSource` does, and fails the test unless the answer
    /// is `200` with `text/event-stream`.
    pub async fn get(&self, path: &str) -> EventStream {
        self.get_with(path, &[]).await.expect_stream()
    }

    /// Opens `GET path` with `headers`, whatever the answer: check
    /// [`EventStream::status`] before reading.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> EventStream {
        EventStream::open(self.addr, path, headers).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
