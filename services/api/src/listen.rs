//! The HTTP listener, hardened against slow and greedy clients: an accept loop over
//! hyper's HTTP/1 connections (axum's own `serve` takes no settings and sets no timer, so
//! it has no header timeout at all).
//!
//! - A request's head must arrive within [`Limits::header_read`]; the same timer is the
//!   idle timeout of a kept-alive connection (hyper restarts it after each response and
//!   pauses it while one is being written, so an event stream is not cut).
//! - A body must keep coming ([`Limits::body_idle`] between frames) and be whole within
//!   [`Limits::body_total`]; a late one is answered 408. The command route checks the
//!   token before it reads a body at all.
//! - Open connections are capped in all and per peer address; one over a cap is refused
//!   at once (a best-effort 503, then closed), never queued.
//! - Each request carries its peer's address (`ConnectInfo<SocketAddr>`), by which the
//!   requests without a token are rate-limited ([`Limits::anonymous`]).
//! - At the stop, no new connection is taken, idle ones close, and those in flight finish.

use allweather_command::RateLimit;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::add_extension::AddExtension;
use tower_http::timeout::{RequestBodyDeadline, RequestBodyTimeout};

/// What one client may hold of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// For a request's head to arrive; also how long a kept-alive connection may idle.
    pub header_read: Duration,
    /// Longest pause between two parts of a request body.
    pub body_idle: Duration,
    /// For a whole request body to arrive.
    pub body_total: Duration,
    /// Open connections in all.
    pub connections: usize,
    /// Open connections from one peer address (behind a proxy, the proxy's).
    pub connections_per_address: usize,
    /// Requests without a token one address may make (the public rankings, the wish
    /// board, the dashboard); `None`: no limit.
    pub anonymous: Option<RateLimit>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            body_total: Duration::from_secs(30),
            connections: 4096,
            connections_per_address: 256,
            anonymous: Some(RateLimit {
                per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
            }),
        }
    }
}

/// Open connections by peer address.
type Peers = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// An admitted connection's place under both caps, given back when it is dropped.
struct Slot {
    _total: OwnedSemaphorePermit,
    peers: Peers,
    ip: IpAddr,
}

impl Slot {
    /// A place for a connection from `ip`, if both caps leave one (never waits).
    fn take(total: &Arc<Semaphore>, peers: &Peers, ip: IpAddr, per_address: usize) -> Option<Slot> {
        let permit = Arc::clone(total).try_acquire_owned().ok()?;
        let mut open = peers.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= per_address {
            return None;
        }
        *count += 1;
        Some(Slot {
            _total: permit,
            peers: Arc::clone(peers),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Refuses a connection over a cap: a 503 if the socket takes it at once, then closed.
fn refuse(stream: &TcpStream) {
    // Best effort by design: a client that cannot take these bytes now is closed anyway.
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
}

/// Serves `router` on `listener` within `limits` until `stop`, then drains: no new
/// connection, idle ones closed, requests in flight finished.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: CancellationToken) {
    let total = Arc::new(Semaphore::new(limits.connections.max(1)));
    let peers = Peers::default();
    let connections = TaskTracker::new();
    let mut http = http1::Builder::new();
    // Without a timer hyper ignores the header timeout.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // A connection that died before it was taken, or the process out of
                    // descriptors (then pause, as axum does, rather than spin).
                    tracing::warn!(error = %e, "accepting a connection failed");
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tokio::select! {
                            () = stop.cancelled() => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        let ip = peer.ip().to_canonical();
        let Some(slot) = Slot::take(&total, &peers, ip, limits.connections_per_address.max(1))
        else {
            tracing::debug!(%peer, "a connection over the caps was refused");
            refuse(&stream);
            continue;
        };
        // Small answers go out at once rather than wait for more to send.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "could not set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(RequestBodyDeadline::new(
            RequestBodyTimeout::new(
                AddExtension::new(router.clone(), ConnectInfo(peer)),
                limits.body_idle,
            ),
            limits.body_total,
        ));
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(e) = served {
                // A header timeout, a reset, a client gone: the connection's own end.
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
