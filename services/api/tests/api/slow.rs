//! Slow and greedy clients against the running service: each is cut off or refused
//! within its limit while others are served.

use allweather_api::Limits;
use allweather_test_support::{TestApp, eventually};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Everything the server sends until it closes the connection (a reset counts as closed).
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    // A reset ends the reading like a close; what came before it is kept.
    let _ = stream.read_to_end(&mut got).await;
    String::from_utf8_lossy(&got).into_owned()
}

async fn connect(app: &TestApp, request: &str) -> TcpStream {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_greedy_ones_refused_while_others_are_served() {
    let limits = Limits {
        header_read: Duration::from_secs(1),
        body_idle: Duration::from_secs(1),
        body_total: Duration::from_secs(2),
        connections: 64,
        connections_per_address: 4,
    };
    let app = TestApp::sqlite_limited(limits).await;
    let deadline = Duration::from_secs(10);
    // A client that never pools: each request its own connection, closed after.
    let other = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    // The status of a health check, 0 when the connection was refused.
    let healthy = || async {
        match other.get(format!("{}/healthz", app.base)).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    };

    let mut half_header = connect(&app, "GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    let admin = app.admin();
    let mut no_body = connect(
        &app,
        &format!(
            "POST /api/v1/commands/RegisterBranch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        ),
    )
    .await;
    // Without a token the body is never waited for.
    let mut anonymous = connect(
        &app,
        "POST /api/v1/commands/RegisterBranch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
    )
    .await;
    let mut answer = [0u8; 12];
    tokio::time::timeout(deadline, anonymous.read_exact(&mut answer))
        .await
        .expect("answered before any body")
        .expect("read");
    assert_eq!(&answer, b"HTTP/1.1 401");
    assert_eq!(healthy().await, 200, "served while two clients stall");

    let cut = tokio::time::timeout(deadline, until_closed(&mut half_header))
        .await
        .expect("the half header is cut off");
    assert_eq!(cut, "", "a head cut off gets no answer");
    let cut = tokio::time::timeout(deadline, until_closed(&mut no_body))
        .await
        .expect("the missing body is cut off");
    assert!(cut.starts_with("HTTP/1.1 408"), "{cut}");
    assert_eq!(app.head().await.0, 0, "nothing was appended");

    // Four idle connections from this address fill its share; a fifth is refused at once
    // while they stay, and served once one has gone.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&app, "").await);
    }
    let mut fifth = connect(&app, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let refused = tokio::time::timeout(deadline, until_closed(&mut fifth))
        .await
        .expect("refused at once");
    assert!(
        refused.is_empty() || refused.starts_with("HTTP/1.1 503"),
        "{refused}"
    );
    drop(idle.pop());
    eventually("a freed place is taken", deadline, || async {
        (healthy().await == 200).then_some(())
    })
    .await;
    app.stop().await;
}
