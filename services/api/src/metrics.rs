//! `/metrics` in the Prometheus text format: commands by name and outcome, append batch
//! sizes and latencies, the log's head, each projector's lag (head − applied), the
//! live event-stream clients and the scorecards replayed for as-of queries. One registry
//! per application, so tests never share one.
//!
//! The series: `allweather_commands_total{command,outcome}` (only known command names
//! become labels), the histograms `allweather_append_batch_events` and
//! `allweather_append_batch_seconds` (the log reports each committed batch to a
//! `BatchObserver`), `allweather_log_head_position`, `allweather_projector_lag{projector}`
//! (read at scrape time), `allweather_sse_clients`, `allweather_asof_replays_total`, and,
//! with `--nats`, `allweather_relay_lag`: the head less the mirror stream's last sequence,
//! read at scrape time so that it is right whichever process relays, and −1 when the
//! mirror cannot be read.

use allweather_command::CommandService;
use allweather_log::{BatchObserver, BatchStats};
use allweather_projections::Progress;
use anyhow::Context as _;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The application's metrics.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    registry: Registry,
    batch_events: Histogram,
    batch_seconds: Histogram,
    head: IntGauge,
    projector_lag: IntGaugeVec,
    /// Open `GET /api/v1/events` streams.
    pub sse_clients: IntGauge,
    relay_lag: IntGauge,
    /// Scorecards replayed for as-of queries.
    pub asof_replays: IntCounter,
    /// Live rankings computed (each answers every request at its position).
    pub rankings_computed: IntCounter,
    mirror: Option<(async_nats::jetstream::Context, String)>,
}

/// Longest a scrape waits for the mirror's state.
const MIRROR_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Metrics {
    pub(crate) fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let batch_events = Histogram::with_opts(
            HistogramOpts::new(
                "allweather_append_batch_events",
                "Events written per committed batch",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
        )?;
        let batch_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "allweather_append_batch_seconds",
                "Time to write and commit a batch",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
        )?;
        let head = IntGauge::new(
            "allweather_log_head_position",
            "The log's last committed position",
        )?;
        let projector_lag = IntGaugeVec::new(
            Opts::new(
                "allweather_projector_lag",
                "Events committed to the log and not yet applied by the projector",
            ),
            &["projector"],
        )?;
        let sse_clients = IntGauge::new("allweather_sse_clients", "Open live event streams")?;
        let relay_lag = IntGauge::new(
            "allweather_relay_lag",
            "Events committed to the log and not yet in the JetStream mirror (-1: the mirror cannot be read)",
        )?;
        let asof_replays = IntCounter::new(
            "allweather_asof_replays_total",
            "Scorecards replayed from the log for queries as of a past position or day",
        )?;
        let rankings_computed = IntCounter::new(
            "allweather_rankings_computed_total",
            "Live branch rankings computed from the read model (each answers every request at its position)",
        )?;
        for collector in [
            Box::new(rankings_computed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(batch_events.clone()),
            Box::new(batch_seconds.clone()),
            Box::new(head.clone()),
            Box::new(projector_lag.clone()),
            Box::new(sse_clients.clone()),
            Box::new(asof_replays.clone()),
        ] {
            registry.register(collector).context("register a metric")?;
        }
        Ok(Metrics {
            registry,
            batch_events,
            batch_seconds,
            head,
            projector_lag,
            sse_clients,
            relay_lag,
            asof_replays,
            rankings_computed,
            mirror: None,
        })
    }

    /// Reports the mirror's lag from now on.
    pub(crate) fn watch_mirror(&mut self, js: async_nats::jetstream::Context, stream: &str) {
        if self
            .registry
            .register(Box::new(self.relay_lag.clone()))
            .is_ok()
        {
            self.mirror = Some((js, stream.to_owned()));
        }
    }

    /// The mirror's last sequence, if it can be read now.
    async fn mirror_sequence(&self) -> Option<u64> {
        let (js, stream) = self.mirror.as_ref()?;
        let read = async {
            let mut stream = js.get_stream(stream).await.ok()?;
            Some(stream.info().await.ok()?.state.last_sequence)
        };
        tokio::time::timeout(MIRROR_WAIT, read).await.ok().flatten()
    }

    /// What the log tells of each batch it commits.
    pub(crate) fn batch_observer(&self) -> BatchObserver {
        let (events, seconds) = (self.batch_events.clone(), self.batch_seconds.clone());
        BatchObserver(Arc::new(move |stats: &BatchStats| {
            events.observe(stats.events as f64);
            seconds.observe(stats.duration.as_secs_f64());
        }))
    }

    /// Adds the command service's counters and the expiry scheduler's position.
    pub(crate) fn register_commands(&self, commands: &CommandService) -> anyhow::Result<()> {
        self.registry
            .register(Box::new(commands.commands_total().clone()))
            .context("register the commands counter")?;
        self.registry
            .register(Box::new(commands.scheduler_position().clone()))
            .context("register the scheduler's gauge")
    }

    /// The text exposition, with the gauges read now.
    pub(crate) async fn render(
        &self,
        head: u64,
        progress: &BTreeMap<&'static str, Progress>,
    ) -> anyhow::Result<String> {
        if self.mirror.is_some() {
            let lag = match self.mirror_sequence().await {
                Some(sequence) => i64::try_from(head.saturating_sub(sequence)).unwrap_or(i64::MAX),
                None => -1,
            };
            self.relay_lag.set(lag);
        }
        let head = i64::try_from(head).unwrap_or(i64::MAX);
        self.head.set(head);
        for (name, p) in progress {
            let applied = i64::try_from(p.position()).unwrap_or(i64::MAX);
            self.projector_lag
                .with_label_values(&[*name])
                .set(head.saturating_sub(applied).max(0));
        }
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .context("encode the metrics")
    }
}
