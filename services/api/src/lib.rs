//! # allweather-api
//!
//! The allweather service as a library a test can start: [`App::build`] opens the log
//! and binds the listener (port 0 picks a free one), [`App::local_addr`] says where it
//! listens, and [`App::run_until_stopped`] serves until the shutdown future completes,
//! then lets in-flight requests finish and commits the appender's last batch.
//!
//! Commands are handled by `allweather-command` (its HTTP route is merged here, and the
//! claim-expiry scheduler runs beside the server); this crate adds the queries.
//!
//! ## Layout
//! - `routes`: the query routes (one list, from which the router and the OpenAPI
//!   document are both built), the dashboard at `/`, and the command route merged in.
//! - `judgement`: branch rankings and members' assessments, live or as of the past.
//! - `openapi`: `/api/v1/openapi.json` and `/api/v1/schemas`, generated from the code.
//! - `metrics`: the Prometheus registry.
//! - `dashboard.html`: the live dashboard page.
#![deny(missing_docs)]

mod judgement;
mod metrics;
mod openapi;
mod replays;
mod routes;

pub use allweather_command::problem;
pub use allweather_command::{CommandOptions, CommandService, TokenKey};

use allweather_log::{Log, LogOptions};
use allweather_projections::{LogSource, Progress, Projector, ReadStore, runner};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// What the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How to open the log (`sqlite:…` or `postgres://…`).
    pub log: LogOptions,
    /// The key that signs and checks bearer tokens.
    pub tokens: TokenKey,
    /// How commands are handled.
    pub commands: CommandOptions,
    /// Where the read models live (`postgres://…`, or `sqlite://PATH` beside the log).
    pub read_store: String,
    /// Whether the projectors run in this process (following the log). When they run as
    /// processes of their own (`allweather projector NAME`), the service only reads what
    /// they write and follows their checkpoints.
    pub run_projectors: bool,
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub commands: CommandService,
    pub tokens: TokenKey,
    pub read: ReadStore,
    /// How far each projector has applied the log, by name.
    pub progress: Arc<BTreeMap<&'static str, Progress>>,
    /// Turns true when the service begins to stop: endless responses (SSE) end then.
    pub stopping: watch::Receiver<bool>,
    pub metrics: metrics::Metrics,
    /// The scorecards replayed for as-of queries.
    pub replays: Arc<replays::Replays>,
}

impl AppState {
    /// How far projector `name` has applied the log.
    pub(crate) fn progress(&self, name: &str) -> Result<&Progress, problem::ApiError> {
        self.progress
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no projector named {name} runs here").into())
    }
}

/// Pause before a failed projector starts again.
const PROJECTOR_RESTART: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest the service waits, once stopping, for open responses to finish.
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A built, bound, not yet serving application.
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    state: AppState,
    projectors: Vec<(&'static dyn Projector, watch::Sender<u64>)>,
    run_projectors: bool,
    stopping: watch::Sender<bool>,
}

/// How often a service whose projectors run elsewhere reads their checkpoints.
const CHECKPOINT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

impl App {
    /// Opens the log and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let metrics = metrics::Metrics::new()?;
        let mut log_options = settings.log;
        log_options.observer = Some(metrics.batch_observer());
        let log = Log::open(log_options).await.context("open the log")?;
        let commands = CommandService::new(log, settings.commands)?;
        metrics.register_commands(&commands)?;
        let read = ReadStore::open(&settings.read_store)
            .await
            .context("open the read store")?;
        let mut projectors = Vec::new();
        let mut progress = BTreeMap::new();
        for projector in allweather_projections::all() {
            let (sender, at) = runner::prepare(&read, projector)
                .await
                .with_context(|| format!("prepare the {} projector", projector.name()))?;
            projectors.push((projector, sender));
            progress.insert(projector.name(), at);
        }
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listen on {}", settings.listen))?;
        let (stopping, stopping_rx) = watch::channel(false);
        Ok(App {
            listener,
            stopping,
            state: AppState {
                commands,
                tokens: settings.tokens,
                read,
                progress: Arc::new(progress),
                stopping: stopping_rx,
                replays: Arc::new(replays::Replays::new(metrics.asof_replays.clone())),
                metrics,
            },
            projectors,
            run_projectors: settings.run_projectors,
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
        self.state.commands.log()
    }

    /// The command service (shared with the NATS adapter).
    pub fn commands(&self) -> &CommandService {
        &self.state.commands
    }

    /// Reports the JetStream mirror's lag behind the log on `/metrics`
    /// (`allweather_relay_lag`: head position − the stream's last sequence).
    pub fn watch_mirror(&mut self, client: async_nats::Client, stream: &str) {
        self.state
            .metrics
            .watch_mirror(async_nats::jetstream::new(client), stream);
    }

    /// The token key.
    pub fn tokens(&self) -> &TokenKey {
        &self.state.tokens
    }

    /// Serves until `shutdown` completes, with the claim-expiry scheduler and the
    /// projectors (following the log) beside it; then stops accepting, lets in-flight
    /// requests finish, stops the background tasks, and shuts the appender down after
    /// committing what it holds.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let commands = self.state.commands.clone();
        let (stop_scheduler, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
        let scheduler = tokio::spawn(allweather_command::scheduler::run(
            commands.clone(),
            async {
                let _ = scheduler_stopped.await;
            },
        ));
        let (stop_projectors, projectors_stopped) = watch::channel(false);
        let mut running = Vec::new();
        for (projector, progress) in self.projectors {
            let (read, log) = (self.state.read.clone(), commands.log().clone());
            let mut stopped = projectors_stopped.clone();
            if !self.run_projectors {
                // The projector runs elsewhere: follow its checkpoint, for min_position.
                running.push((
                    projector.name(),
                    tokio::spawn(async move {
                        loop {
                            match read.checkpoint(projector.name()).await {
                                Ok(at) => {
                                    progress.send_replace(at);
                                }
                                Err(e) => tracing::warn!(
                                    projector = projector.name(),
                                    error = %e,
                                    "cannot read the projector's checkpoint"
                                ),
                            }
                            tokio::select! {
                                _ = stopped.wait_for(|s| *s) => return Ok::<(), runner::ProjectionError>(()),
                                () = tokio::time::sleep(CHECKPOINT_POLL) => {}
                            }
                        }
                    }),
                ));
                continue;
            }
            running.push((
                projector.name(),
                tokio::spawn(async move {
                    // A projector that fails (the read store away a moment, a lock held
                    // too long) starts again from its checkpoint after a pause, rather
                    // than leave its queries waiting for positions it never reaches.
                    loop {
                        let until = stopped.clone();
                        let stop = async move {
                            let mut until = until;
                            let _ = until.wait_for(|s| *s).await;
                        };
                        let source = LogSource::new(log.clone());
                        match runner::run(&read, projector, source, &progress, stop).await {
                            Ok(()) => return Ok(()),
                            Err(e) => tracing::error!(
                                projector = projector.name(),
                                error = %e,
                                "projector failed; starting again from its checkpoint"
                            ),
                        }
                        tokio::select! {
                            _ = stopped.wait_for(|s| *s) => return Ok::<(), runner::ProjectionError>(()),
                            () = tokio::time::sleep(PROJECTOR_RESTART) => {}
                        }
                    }
                }),
            ));
        }
        let stopping = self.stopping;
        let mut stopped = self.state.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            // Event streams end, so that the graceful shutdown does not wait on them.
            let _ = stopping.send(true);
        };
        let serve = std::future::IntoFuture::into_future(
            axum::serve(self.listener, routes::router(self.state)).with_graceful_shutdown(shutdown),
        );
        // A client that stops reading is never polled again, and its response never
        // ends: the drain is bounded.
        let deadline = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN_DEADLINE).await;
        };
        let served = tokio::select! {
            served = serve => served.context("serve HTTP"),
            () = deadline => {
                tracing::warn!("responses still open {DRAIN_DEADLINE:?} after the stop; stopping without them");
                Ok(())
            }
        };
        let _ = stop_scheduler.send(());
        let _ = stop_projectors.send(true);
        for (name, task) in running {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(projector = name, error = %e, "a projector had stopped")
                }
                Err(e) => tracing::error!(projector = name, error = %e, "a projector failed"),
            }
        }
        if let Err(e) = scheduler.await {
            tracing::error!(error = %e, "the expiry scheduler failed");
        }
        commands.log().shutdown().await;
        served
    }
}
