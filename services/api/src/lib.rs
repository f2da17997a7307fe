//! # allweather-api
//!
//! The allweather service as a library a test can start: [`App::build`] opens the log
//! and binds the listener (port 0 picks a free one), [`App::local_addr`] says where it
//! listens, and [`App::run_until_stopped`] serves until its stop token is cancelled, then
//! lets in-flight requests finish and commits the appender's last batch.
//!
//! Commands are handled by `allweather-command` (its HTTP route is merged here, and the
//! claim-expiry scheduler runs beside the server); this crate adds the queries.
//!
//! ## Layout
//! - `routes`: the query routes, one module per resource (one list, from which the router
//!   and the OpenAPI document are both built), their extractors and parameter types, the
//!   dashboard at `/`, and the command route merged in.
//! - `openapi`: `/api/v1/openapi.json` and `/api/v1/schemas`, generated from the code.
//! - `metrics`: the Prometheus registry.
//! - `dashboard.html`: the live dashboard page.
#![deny(missing_docs)]

mod listen;
mod metrics;
mod openapi;
mod pages;
mod replays;
mod routes;

pub use allweather_command::problem;
pub use allweather_command::{CommandOptions, CommandService, TokenKey};
pub use listen::Limits;

use allweather_command::auth::{Revoked, keep_revocations};
use allweather_log::{Log, LogOptions};
use allweather_projections::{LogSource, Progress, Projector, ReadStore, runner};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    /// What one client may hold of the service: timeouts and connection caps.
    pub limits: Limits,
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub commands: CommandService,
    pub tokens: TokenKey,
    pub read: ReadStore,
    /// How far each projector has applied the log, by name.
    pub progress: Arc<BTreeMap<&'static str, Progress>>,
    /// The service's stop, given when it starts serving: endless responses (SSE) end when
    /// it is cancelled.
    pub stopping: CancellationToken,
    pub metrics: metrics::Metrics,
    /// The scorecards replayed for as-of queries.
    pub replays: Arc<replays::Replays>,
    /// The live rankings, computed once per position.
    pub rankings: Arc<routes::rankings::Live>,
    /// The rate of requests without a token, per client address.
    pub anonymous: Option<Arc<routes::AddressLimiter>>,
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

/// The name the HTTP server's task is reported by.
const HTTP: &str = "HTTP";

/// Longest the service waits, once stopping, for open responses to finish.
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A built, bound, not yet serving application.
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    state: AppState,
    projectors: Vec<(&'static dyn Projector, watch::Sender<u64>)>,
    run_projectors: bool,
    limits: Limits,
    mirror: Option<Mirror>,
}

/// The JetStream mirror a service keeps, and the NATS connection it answers commands on.
#[derive(Debug)]
pub struct Mirror {
    /// The connection.
    pub client: async_nats::Client,
    /// The stream, the subject prefix (of events and of commands), the replicas.
    pub settings: allweather_relay::RelaySettings,
    /// Whether this process mirrors the log (else a relay process of its own does).
    pub relay: bool,
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
        // The revocations are in force before the first request.
        let revoked = log
            .token_revocations()
            .await
            .context("read the token revocations")?;
        settings.tokens.set_revoked(Revoked::of(revoked));
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
        Ok(App {
            listener,
            mirror: None,
            state: AppState {
                commands,
                tokens: settings.tokens,
                read,
                progress: Arc::new(progress),
                stopping: CancellationToken::new(),
                replays: Arc::new(replays::Replays::new(metrics.asof_replays.clone())),
                rankings: Arc::new(routes::rankings::Live::new(
                    metrics.rankings_computed.clone(),
                )),
                anonymous: settings.limits.anonymous.map(|r| {
                    Arc::new(governor::RateLimiter::keyed(
                        governor::Quota::per_second(r.per_second).allow_burst(r.burst),
                    ))
                }),
                metrics,
            },
            projectors,
            run_projectors: settings.run_projectors,
            limits: settings.limits,
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

    /// Keeps the JetStream mirror in this process (the relay, unless `mirror.relay` is
    /// off) and answers commands over NATS, both supervised with the HTTP server; reports
    /// the mirror's lag behind the log on `/metrics` (`allweather_relay_lag`).
    pub fn with_mirror(&mut self, mirror: Mirror) {
        self.state.metrics.watch_mirror(
            async_nats::jetstream::new(mirror.client.clone()),
            &mirror.settings.stream,
        );
        self.mirror = Some(mirror);
    }

    /// The token key.
    pub fn tokens(&self) -> &TokenKey {
        &self.state.tokens
    }

    /// Serves until `stop` is cancelled, with every task of the service beside the HTTP
    /// server under one supervision: the claim-expiry scheduler, the projectors (following
    /// the log), and with a mirror the relay and the NATS command adapter. A task that
    /// fails or ends on its own is reported at once and stops the service (it cancels
    /// `stop`), and the error is returned. Once stopping: no new connections, in-flight
    /// requests finish (within a deadline) with the other tasks still running, then every
    /// task ends, and the appender commits what it holds before the log shuts down.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let commands = self.state.commands.clone();
        let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
        // The tasks behind HTTP stop once it has drained: a request in flight at the stop
        // still finds its projector (for `min_position`) and its scheduler running.
        let behind = CancellationToken::new();
        let until = || behind.clone().cancelled_owned();
        {
            let (commands, until) = (commands.clone(), until());
            tasks.spawn(async move {
                allweather_command::scheduler::run(commands, until).await;
                ("the claim-expiry scheduler", Ok(()))
            });
        }
        {
            let (key, log, stop) = (
                self.state.tokens.clone(),
                commands.log().clone(),
                behind.clone(),
            );
            tasks.spawn(async move {
                keep_revocations(key, log, stop).await;
                ("the token revocations", Ok(()))
            });
        }
        if let Some(limiter) = self.state.anonymous.clone() {
            let stop = behind.clone();
            tasks.spawn(async move {
                // The addresses whose budget is whole again are forgotten: the map holds
                // the recent clients only.
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {
                            limiter.retain_recent();
                            limiter.shrink_to_fit();
                        }
                    }
                }
                ("the anonymous rate's pruning", Ok(()))
            });
        }
        for (projector, progress) in self.projectors {
            let (read, log, stop) = (
                self.state.read.clone(),
                commands.log().clone(),
                behind.clone(),
            );
            if self.run_projectors {
                tasks.spawn(async move {
                    (
                        projector.name(),
                        project(projector, read, log, progress, stop).await,
                    )
                });
            } else {
                tasks.spawn(async move {
                    follow_checkpoint(projector, read, progress, stop).await;
                    (projector.name(), Ok(()))
                });
            }
        }
        if let Some(mirror) = self.mirror {
            if mirror.relay {
                let relay = allweather_relay::run(
                    commands.log().clone(),
                    mirror.client.clone(),
                    mirror.settings.clone(),
                    until(),
                );
                tasks.spawn(async move { ("the relay", relay.await.map_err(Into::into)) });
            }
            let (service, key, until) = (commands.clone(), self.state.tokens.clone(), until());
            tasks.spawn(async move {
                let served = allweather_command::nats::serve_commands(
                    service,
                    key,
                    mirror.client,
                    &mirror.settings.prefix,
                    until,
                )
                .await;
                ("the NATS command adapter", served.map_err(Into::into))
            });
        }
        // Endless responses (the event stream) end when the service stops.
        let mut state = self.state;
        state.stopping = stop.clone();
        let router = routes::router(state)?;
        let (listener, limits) = (self.listener, self.limits);
        let drained = stop.clone();
        tasks.spawn(async move {
            let serve = listen::serve(listener, router, limits, drained.clone());
            // A client that stops reading is never polled again, and its response never
            // ends: the drain is bounded.
            let deadline = async move {
                drained.cancelled().await;
                tokio::time::sleep(DRAIN_DEADLINE).await;
            };
            let served = tokio::select! {
                () = serve => Ok(()),
                () = deadline => {
                    tracing::warn!("responses still open {DRAIN_DEADLINE:?} after the stop; stopping without them");
                    Ok(())
                }
            };
            (HTTP, served)
        });
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            let (task, result) = match joined {
                Ok(ended) => ended,
                Err(e) => ("a task", Err(anyhow::Error::new(e))),
            };
            let expected = if task == HTTP {
                stop.is_cancelled()
            } else {
                behind.is_cancelled()
            };
            match result {
                Err(e) => {
                    tracing::error!(task, error = %e, "failed; stopping the service");
                    failure.get_or_insert(e.context(format!("{task} failed")));
                }
                Ok(()) if !expected => {
                    tracing::error!(task, "ended on its own; stopping the service");
                    failure.get_or_insert(anyhow::anyhow!("{task} ended on its own"));
                }
                Ok(()) => {}
            }
            stop.cancel();
            if task == HTTP {
                behind.cancel();
            }
        }
        commands.log().shutdown().await;
        failure.map_or(Ok(()), Err)
    }
}

/// A projector following the log in this process until `stop`. One that fails (the read
/// store away a moment, a lock held too long) starts again from its checkpoint after a
/// pause, rather than leave its queries waiting for positions it never reaches.
async fn project(
    projector: &'static dyn Projector,
    read: ReadStore,
    log: Log,
    progress: watch::Sender<u64>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let source = LogSource::new(log.clone());
        let until = stop.clone().cancelled_owned();
        match runner::run(&read, projector, source, &progress, until).await {
            Ok(()) => return Ok(()),
            Err(e) => tracing::error!(
                projector = projector.name(),
                error = %e,
                "projector failed; starting again from its checkpoint"
            ),
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(PROJECTOR_RESTART) => {}
        }
    }
}

/// A projector running elsewhere: its checkpoint, followed for `min_position`, until
/// `stop`.
async fn follow_checkpoint(
    projector: &'static dyn Projector,
    read: ReadStore,
    progress: watch::Sender<u64>,
    stop: CancellationToken,
) {
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
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECKPOINT_POLL) => {}
        }
    }
}
