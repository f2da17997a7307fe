//! The settings every subcommand shares, built in one place: where the data lives (the
//! data directory, or a PostgreSQL database), the JetStream mirror's names, the county's
//! offset from UTC, the token key, the log format. Each comes from a flag or its
//! `ALLWEATHER_` variable; subcommands ask this module for what they open, never `main`.

use allweather_api::{CommandOptions, TokenKey};
use allweather_log::LogOptions;
use allweather_relay::RelaySettings;
use anyhow::{Context as _, bail};
use std::path::PathBuf;

/// The flags every subcommand takes (global: they may come before or after its name).
#[derive(Debug, clap::Args)]
pub(crate) struct Config {
    /// Directory of the embedded SQLite log (`log.db`), created on first use.
    #[arg(
        long,
        global = true,
        env = "ALLWEATHER_DATA_DIR",
        default_value = "allweather-data"
    )]
    pub(crate) data_dir: PathBuf,
    /// Format of the service's own log lines on stderr.
    #[arg(long, global = true, env = "ALLWEATHER_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::Format::Pretty)]
    pub(crate) log_format: crate::telemetry::Format,
    /// The county's offset from UTC: the calendar date of facts is the county's.
    #[arg(
        long,
        global = true,
        env = "ALLWEATHER_COUNTY_OFFSET",
        default_value = "+08:00"
    )]
    county_offset: chrono::FixedOffset,
    #[command(flatten)]
    mirror: Mirror,
}

/// Where the JetStream mirror lives (one stream and subject prefix per county).
#[derive(Debug, clap::Args)]
struct Mirror {
    /// The JetStream stream of the mirror.
    #[arg(
        long,
        global = true,
        env = "ALLWEATHER_NATS_STREAM",
        default_value = "AW_EVENTS"
    )]
    nats_stream: String,
    /// The subject prefix: events go to PREFIX.evt.>, live subscribers follow PREFIX.live.>.
    #[arg(
        long,
        global = true,
        env = "ALLWEATHER_NATS_PREFIX",
        default_value = "aw"
    )]
    nats_prefix: String,
    /// Replicas of the stream when the relay creates it (3 on a cluster).
    #[arg(
        long,
        global = true,
        env = "ALLWEATHER_NATS_REPLICAS",
        default_value_t = 1
    )]
    nats_replicas: usize,
}

/// Where a subcommand's log is: `--database`, or `log.db` in the data directory.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Store {
    /// A PostgreSQL URL (postgres://…) for the log instead of SQLite in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub(crate) database: Option<String>,
}

impl Config {
    /// The log to open: `--database` if given, else `log.db` in the data directory
    /// (created only when `create` is set, so that an audit of a mistyped directory fails
    /// instead of auditing an empty new log).
    pub(crate) fn log(&self, store: &Store, create: bool) -> anyhow::Result<LogOptions> {
        if let Some(url) = &store.database {
            return Ok(LogOptions::new(url.clone()));
        }
        let file = self.data_dir.join("log.db");
        if create {
            std::fs::create_dir_all(&self.data_dir).with_context(|| {
                format!("create the data directory {}", self.data_dir.display())
            })?;
        } else if !file.exists() {
            bail!(
                "there is no log at {} (use --data-dir or --database)",
                file.display()
            );
        }
        Ok(LogOptions::sqlite_file(&file))
    }

    /// Where the read models live: the log's PostgreSQL database, or `read.db` beside the
    /// SQLite log (so that projecting never waits for the log's write lock).
    pub(crate) fn read_store(&self, store: &Store) -> String {
        match &store.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("read.db").display()),
        }
    }

    /// The token key: `ALLWEATHER_TOKEN_SECRET` if set, else the secret in the data
    /// directory (made on first use).
    pub(crate) fn token_key(&self) -> anyhow::Result<TokenKey> {
        let given = std::env::var("ALLWEATHER_TOKEN_SECRET").ok();
        TokenKey::load(given.as_deref(), &self.data_dir).context("load the token signing secret")
    }

    /// How commands are handled: the county's calendar, the defaults otherwise.
    pub(crate) fn commands(&self) -> CommandOptions {
        CommandOptions {
            county_offset: self.county_offset,
            ..CommandOptions::default()
        }
    }

    /// The county's offset from UTC.
    pub(crate) fn county_offset(&self) -> chrono::FixedOffset {
        self.county_offset
    }

    /// The mirror's stream, subject prefix and replicas.
    pub(crate) fn mirror(&self) -> RelaySettings {
        RelaySettings {
            stream: self.mirror.nats_stream.clone(),
            prefix: self.mirror.nats_prefix.clone(),
            replicas: self.mirror.nats_replicas,
            ..RelaySettings::default()
        }
    }
}

/// Connects to NATS (one URL, or several separated by commas for a cluster), and keeps
/// trying in the background if it is not up yet: commands commit without NATS, and the
/// relay catches up when it comes.
pub(crate) async fn connect_nats(url: &str) -> anyhow::Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats_servers(url))
        .await
        .with_context(|| format!("connect to NATS at {url}"))
}

/// The servers of a `--nats` value: one URL, or several separated by commas.
pub(crate) fn nats_servers(url: &str) -> Vec<&str> {
    url.split(',').map(str::trim).collect()
}
