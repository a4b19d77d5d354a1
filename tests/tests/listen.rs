//! `sse_runtime::listen`: a listener with room for every client that comes back at once
//! after a restart, where `TcpListener::bind` has room for 128. The kernel's own figure
//! is the oracle: `ss` shows a listening socket's backlog as its Send-Q.

use std::process::Command;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// Held while a test spawns a process or needs its sockets closed for good: a process
/// being spawned holds a copy of every socket of this one until it has started, so a
/// listener another test closes meanwhile keeps its port. (A restarted server is a new
/// process, and has no such copies.)
static SPAWNING: Mutex<()> = Mutex::const_new(());

/// The backlog the kernel keeps for the listening socket on `port`.
fn backlog(port: u16) -> u32 {
    let output = Command::new("ss")
        .args(["-H", "-l", "-t", "-n", &format!("sport = :{port}")])
        .output()
        .expect("ss, from iproute2");
    let text = String::from_utf8(output.stdout).expect("ss writes text");
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("ss lists nothing listening on {port}"));
    // State, Recv-Q, Send-Q, ...
    let send_q = line.split_whitespace().nth(2).expect("a Send-Q column");
    send_q.parse().expect("a number")
}

/// What the kernel grants at most.
fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("Linux")
        .trim()
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn listen_asks_for_a_backlog_of_4096_where_bind_gets_128() {
    let _spawning = SPAWNING.lock().await;
    let ours = sse_runtime::listen("127.0.0.1:0").await.unwrap();
    let port = ours.local_addr().unwrap().port();
    assert_eq!(backlog(port), 4096.min(somaxconn()));
    let tokios = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tokios.local_addr().unwrap().port();
    assert_eq!(
        backlog(port),
        128.min(somaxconn()),
        "the README's reason for listen: TcpListener::bind's backlog"
    );
}

/// A name is resolved as `TcpListener::bind` resolves it; a port in use is an error.
#[tokio::test]
async fn listen_takes_a_name_and_refuses_a_port_in_use() {
    let listener = sse_runtime::listen("localhost:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    let taken = sse_runtime::listen(addr).await;
    assert_eq!(
        taken.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::AddrInUse
    );
}

/// A server that restarts binds its port again at once, though the connections it
/// closed wait out TIME_WAIT on it.
#[tokio::test]
async fn a_restarted_server_listens_on_its_port_again_at_once() {
    let _spawning = SPAWNING.lock().await;
    let listener = sse_runtime::listen("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    // The server closes first, so its side of the connection is the one in TIME_WAIT.
    accepted.shutdown().await.unwrap();
    drop(accepted);
    drop(listener);
    drop(client);
    let again = sse_runtime::listen(addr).await;
    assert!(again.is_ok(), "{addr} again: {:?}", again.map(|_| ()));
}
