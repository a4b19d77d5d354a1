//! What every kind of view must do, checked the same way whatever form the view has.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::{Client, PATIENCE};

/// The first `count` body frames of `GET path`, each as the server wrote it.
pub async fn first_frames(addr: SocketAddr, path: &str, count: usize) -> Vec<Bytes> {
    let mut client = Client::get(addr, path, &[]).await;
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        frames.push(client.frame_within(Duration::from_secs(2)).await.unwrap());
    }
    frames
}

/// Reads three frames of `GET path`, a view that counts its iterations in `ticks`, then
/// leaves, and checks that the view stops counting once it has.
pub async fn assert_the_view_stops_when_the_client_leaves(
    addr: SocketAddr,
    path: &str,
    ticks: &AtomicU64,
) {
    let mut client = Client::get(addr, path, &[]).await;
    for _ in 0..3 {
        client.frame_within(PATIENCE).await.unwrap();
    }
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_leaving = ticks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        after_leaving,
        "the view ran on after its client left"
    );
}
