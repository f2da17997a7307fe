//! Slow and greedy clients against the running service: each is cut off or refused
//! within its limit while others are served.

use allweather_api::Limits;
use allweather_command::RateLimit;
use allweather_test_support::{TestApp, eventually};
use std::num::NonZeroU32;
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
        anonymous: None,
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

/// The status and `Retry-After` of a GET, anonymous or with `token`.
async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, bool) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("get");
    (r.status().as_u16(), r.headers().contains_key("retry-after"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_rate_limited_per_address_and_the_public_rankings_computed_once_per_position()
 {
    let limits = Limits {
        anonymous: Some(RateLimit {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(40).expect("40"),
        }),
        ..allweather_test_support::loopback()
    };
    let app = TestApp::sqlite_limited(limits).await;
    app.adopt_rules(|_| {}).await;
    let rankings = format!(
        "{}/api/v1/rankings/branches?year=2026&min_position=1",
        app.base
    );
    // Twenty at once, all answered from one computation at this position.
    let answers =
        futures::future::join_all((0..20).map(|_| get(&app.client, &rankings, None))).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    // `/metrics` is not counted against the address's anonymous rate.
    let computed = async || {
        app.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix("allweather_rankings_computed_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let admin = app.admin();
    assert_eq!(computed().await, Some(1), "one computation");
    // The burst spent, the address waits; a token's holder does not.
    let mut refused = None;
    for _ in 0..40 {
        let (status, retry_after) = get(&app.client, &rankings, None).await;
        if status == 429 {
            refused = Some(retry_after);
            break;
        }
    }
    assert_eq!(
        refused,
        Some(true),
        "refused with Retry-After once over the rate"
    );
    assert_eq!(
        get(&app.client, &rankings, Some(&admin)).await,
        (200, false)
    );
    // A header that is not a token is no way around the rate; what costs nothing is not
    // counted.
    let board = format!("{}/api/v1/wishes?year=2026", app.base);
    assert_eq!(get(&app.client, &board, Some("not-a-token")).await.0, 429);
    assert_eq!(
        get(&app.client, &format!("{}/healthz", app.base), None)
            .await
            .0,
        200
    );
    assert_eq!(computed().await, Some(1), "still one computation");
    app.stop().await;
}
