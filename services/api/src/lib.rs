//! # allweather-api
//!
//! The allweather service as a library a test can start: [`App::build`] opens the log
//! and binds the listener (port 0 picks a free one), [`App::local_addr`] says where it
//! listens, and [`App::run_until_stopped`] serves until the shutdown future completes,
//! then lets in-flight requests finish and commits the appender's last batch.
//!
//! ## Layout
//! - [`problem`]: every error as `application/problem+json`, in one place.
//! - `routes`: `/healthz`, `GET /api/v1/streams/{id}`, `POST /api/v1/commands/{name}`.
//! - `commands`: running a command by name, shared by HTTP and NATS.
//! - [`nats`]: commands over NATS request/reply.
//! - `probe`: the one command served until the domain lands (`Ping`).
#![deny(missing_docs)]

mod commands;
pub mod nats;
mod probe;
pub mod problem;
mod routes;

use allweather_events::Catalog;
use allweather_log::{Log, LogOptions};
use anyhow::Context as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How to open the log (`sqlite:…` or `postgres://…`).
    pub log: LogOptions,
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub log: Log,
    pub catalog: Arc<Catalog>,
}

/// A built, bound, not yet serving application.
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl App {
    /// Opens the log and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let log = Log::open(settings.log).await.context("open the log")?;
        let catalog = Catalog::new(probe::EVENTS).context("build the event catalog")?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listen on {}", settings.listen))?;
        Ok(App {
            listener,
            state: AppState {
                log,
                catalog: Arc::new(catalog),
            },
        })
    }

    /// Where the application listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The log the application writes to.
    pub fn log(&self) -> &Log {
        &self.state.log
    }

    /// Serves until `shutdown` completes; then stops accepting, lets in-flight requests
    /// finish, and shuts the appender down after committing what it holds.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let log = self.state.log.clone();
        let served = axum::serve(self.listener, routes::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serve HTTP");
        log.shutdown().await;
        served
    }
}
