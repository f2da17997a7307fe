//! `allweather`: the command that runs the service and its tools.
//!
//! The binary is thin: it parses the command line, sets up tracing once, and dispatches
//! into the libraries (`allweather-api`, `allweather-log`). A long-running subcommand
//! (`serve`, `relay`, `projector`) gets one stop, a `CancellationToken` cancelled by the
//! one listener for SIGTERM and Ctrl-C: `serve` then stops accepting, lets in-flight
//! requests finish and commits the appender's last batch (a CLI test sends SIGTERM under
//! load and finds every acknowledged command in the log once); a `projector` following
//! the mirror waits for its stream to appear (the relay creates it) rather than exit.
//!
//! ## Layout
//! - `main`: the command line, and `serve`, `relay`, `projector` and `audit verify`.
//! - `config`: the settings every subcommand shares, built in one place.
//! - `admin`: `token issue|revoke`, `rules adopt`, `erase beneficiary`.
//! - `bench` (a function): runs `allweather-bench` (the crate `services/bench`).
//! - `demo`: `allweather demo`, a realistic county's year through the command path.
//! - `reassess`: `allweather reassess`, a year judged again under other rules.
//! - `telemetry`: tracing set-up.

mod admin;
mod config;
mod demo;
mod import;
mod reassess;
mod telemetry;

use allweather_api::{App, CommandOptions, Limits, Mirror, Settings};
use allweather_domain::values::Year;
use allweather_log::{Log, LogOptions};
use allweather_relay::RelaySettings;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use config::{Config, Store};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// allweather: the county's all-weather member programme, as an audit-grade event log.
#[derive(Debug, Parser)]
#[command(name = "allweather", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: the HTTP API over the log.
    Serve {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, env = "ALLWEATHER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        store: Store,
        /// Also mirror the log to NATS JetStream and answer commands over NATS
        /// (PREFIX.cmd.{CommandName}), in this process (nats://host:port[,…]).
        #[arg(long, env = "ALLWEATHER_NATS")]
        nats: Option<String>,
        /// Commands one token may issue per second (bursts of twice as many); 0: no limit.
        #[arg(long, env = "ALLWEATHER_RATE_LIMIT", default_value_t = 200)]
        rate_limit: u32,
        /// With --nats: answer commands over NATS but leave mirroring to a relay process
        /// of its own (`allweather relay`): the distributed topology, where one relay
        /// serves many command-service instances.
        #[arg(long, requires = "nats")]
        no_relay: bool,
        /// Leave the read models to projector processes of their own (`allweather
        /// projector NAME`): this instance answers queries from what they write.
        #[arg(long)]
        no_projectors: bool,
        /// Open connections the service keeps at once; more are refused (503).
        #[arg(long, env = "ALLWEATHER_MAX_CONNECTIONS", default_value_t = Limits::default().connections)]
        max_connections: usize,
        /// Open connections from one address (behind a proxy: the proxy's).
        #[arg(long, env = "ALLWEATHER_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Limits::default().connections_per_address)]
        max_connections_per_address: usize,
        /// Requests without a token one address may make per second (bursts of three times
        /// as many); 0: no limit.
        #[arg(long, env = "ALLWEATHER_ANONYMOUS_RATE", default_value_t = 20)]
        anonymous_rate: u32,
    },
    /// Mirror the log to NATS JetStream (stream AW_EVENTS, subjects aw.evt.>), until
    /// stopped; exits with status 1 if the stream does not match the log.
    Relay {
        /// The NATS server (nats://host:port; several, separated by commas, for a cluster).
        #[arg(long, env = "ALLWEATHER_NATS")]
        nats: String,
        #[command(flatten)]
        store: Store,
    },
    /// Run one projector as a process of its own, until stopped: it follows the log (or,
    /// with --nats, the JetStream mirror) into its read-model tables.
    Projector {
        /// The projector: leaderboard, wishes, integrity or scorecard.
        #[arg(value_parser = ["leaderboard", "wishes", "integrity", "scorecard"])]
        name: String,
        /// Follow the JetStream mirror (a durable consumer) instead of the log.
        #[arg(long, env = "ALLWEATHER_NATS", conflicts_with = "rebuild")]
        nats: Option<String>,
        #[command(flatten)]
        store: Store,
        /// Rebuild its tables from the whole log into shadow tables, swap them in at once
        /// (queries go on answering from the old ones until then), and exit. A running
        /// instance of the projector goes on from the rebuilt checkpoint.
        #[arg(long)]
        rebuild: bool,
    },
    /// Sign bearer tokens with the secret in --data-dir (or ALLWEATHER_TOKEN_SECRET), or
    /// revoke them.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Give people their way into the platform: an account and a one-time sign-in code
    /// (printed with its address and a QR code), or disable an account at once.
    Account {
        #[command(subcommand)]
        command: admin::AccountCommand,
    },
    /// Bring a county's roster in from its spreadsheet.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Adopt a year's rules (a TOML file such as rules/2026.toml) as an event in the log.
    Rules {
        #[command(subcommand)]
        command: admin::RulesCommand,
    },
    /// Fill the log with a realistic county's year, generated from a seed and sent
    /// through the real command path (tokens, permissions, rules) on a simulated clock:
    /// the same seed and year write the same log, to the head hash. Running it again
    /// repeats nothing (every command carries its idempotency key).
    Demo {
        /// Members of the county.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        members: u32,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The programme year simulated, January to December (default: last year).
        #[arg(long)]
        year: Option<Year>,
        #[command(flatten)]
        store: Store,
    },
    /// Judge a year again under other rules: replays the log into a scratch model and
    /// reports each member whose outcome and each branch whose rank would change, with
    /// the criteria that change (the log and the read models are left as they are).
    Reassess {
        /// The year.
        #[arg(long)]
        year: Year,
        /// The rules to judge it by (a TOML file such as rules/2026.toml).
        #[arg(long)]
        rules: PathBuf,
        /// Also write the changes as CSV, one row per changed criterion.
        #[arg(long)]
        csv: Option<PathBuf>,
        #[command(flatten)]
        store: Store,
        /// Replay the JetStream mirror (an ordered consumer, nothing left behind) instead
        /// of the log: for an analyst's machine that reaches NATS but not the database.
        #[arg(long, conflicts_with = "database")]
        nats: Option<String>,
    },
    /// Erase personal data (the law on personal information protection).
    Erase {
        #[command(subcommand)]
        command: admin::EraseCommand,
    },
    /// Check the log's integrity.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Measure every headline figure against its baseline, in one run or section by section:
    /// runs `allweather-bench` (built beside this program) with these arguments.
    #[command(disable_help_flag = true)]
    Bench {
        /// The bench's arguments (`allweather bench --help` shows them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import branches and members: one .xlsx with sheets `branches` and `members` (or
    /// 支部 and 党员), or branches.csv and members.csv; English or Chinese column names.
    /// Every problem is printed as FILE:ROW: COLUMN: message and nothing is sent while
    /// there is one; a second run appends nothing for rows already imported.
    Roster {
        /// The .xlsx file, or the two .csv files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Check every row, print what would be registered, send nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: Store,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain from position 1; print the count and head hash, or name the
    /// first bad position and exit with status 1.
    Verify {
        #[command(flatten)]
        store: Store,
        /// Also check that every message of the JetStream mirror matches the log at the
        /// same position (id, subject, hash).
        #[arg(long, env = "ALLWEATHER_NATS")]
        nats: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = &cli.config;
    match cli.command {
        Command::Serve {
            listen,
            store,
            nats,
            rate_limit,
            no_relay,
            no_projectors,
            max_connections,
            max_connections_per_address,
            anonymous_rate,
        } => {
            let settings = Settings {
                limits: Limits {
                    connections: max_connections,
                    connections_per_address: max_connections_per_address,
                    anonymous: std::num::NonZeroU32::new(anonymous_rate).map(|per_second| {
                        allweather_command::RateLimit {
                            per_second,
                            burst: std::num::NonZeroU32::new(per_second.get().saturating_mul(3))
                                .unwrap_or(per_second),
                        }
                    }),
                    ..Limits::default()
                },
                run_projectors: !no_projectors,
                read_store: config.read_store(&store),
                listen,
                log: config.log(&store, true)?,
                tokens: config.token_key()?,
                commands: CommandOptions {
                    rate_limit: std::num::NonZeroU32::new(rate_limit).map(|per_second| {
                        allweather_command::RateLimit {
                            per_second,
                            burst: std::num::NonZeroU32::new(per_second.get().saturating_mul(2))
                                .unwrap_or(per_second),
                        }
                    }),
                    ..config.commands()
                },
            };
            let mirror = match nats {
                Some(url) => Some(Mirror {
                    client: config::connect_nats(&url).await?,
                    settings: config.mirror(),
                    relay: !no_relay,
                }),
                None => None,
            };
            serve(settings, mirror, stop_on_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Projector {
            name,
            nats,
            store,
            rebuild,
        } => {
            let read = config.read_store(&store);
            let log = Log::open(config.log(&store, false)?).await?;
            if rebuild {
                rebuild_projector(&name, log, &read).await?;
            } else {
                let mirror = match nats {
                    Some(url) => Some((config::connect_nats(&url).await?, config.mirror())),
                    None => None,
                };
                projector(&name, log, &read, mirror, stop_on_signal()).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { command } => admin::token(command, config).await,
        Command::Account { command } => admin::account(command, config).await,
        Command::Import {
            command:
                ImportCommand::Roster {
                    files,
                    dry_run,
                    store,
                },
        } => import::roster(config, &store, &files, dry_run).await,
        Command::Rules { command } => admin::rules(command, config).await,
        Command::Erase { command } => admin::erase(command, config).await,
        Command::Demo {
            members,
            seed,
            year,
            store,
        } => {
            let options = allweather_demo::DemoOptions {
                members: members as usize,
                seed,
                year: year.map_or_else(demo::last_year, Year::get),
                county_offset: config.county_offset(),
            };
            demo::demo(config, &store, options).await
        }
        Command::Reassess {
            year,
            rules,
            csv,
            store,
            nats,
        } => {
            let from = match nats {
                Some(url) => reassess::Replay::Mirror(
                    config::connect_nats(&url).await?,
                    config.mirror().stream,
                ),
                None => reassess::Replay::Log(Log::open(config.log(&store, false)?).await?),
            };
            reassess::reassess(from, year.get(), &rules, csv.as_deref()).await
        }
        Command::Relay { nats, store } => {
            let log = Log::open(config.log(&store, false)?).await?;
            let client = config::connect_nats(&nats).await?;
            let stop = stop_on_signal();
            match allweather_relay::run(log, client, config.mirror(), stop.cancelled_owned()).await
            {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { store, nats },
        } => {
            let mirror = nats.map(|url| (url, config.mirror()));
            verify(config.log(&store, false)?, mirror).await
        }
        Command::Bench { args } => bench(&args),
    }
}

/// `allweather bench ARGS`: the bench is a program of its own (`services/bench`), so that
/// this one does not link what only the bench uses; it runs the `allweather-bench` built
/// beside this program, which measures this program's `serve`.
fn bench(args: &[std::ffi::OsString]) -> anyhow::Result<ExitCode> {
    let this = std::env::current_exe().context("find this program")?;
    let program = this.with_file_name(format!("allweather-bench{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        program.is_file(),
        "the bench is a program of its own and is not built beside this one ({}): cargo build --release -p allweather-bench",
        program.display()
    );
    let status = std::process::Command::new(&program)
        .args(args)
        .env("ALLWEATHER_BIN", &this)
        .status()
        .with_context(|| format!("run {}", program.display()))?;
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .map_or(ExitCode::FAILURE, ExitCode::from))
}

/// `allweather projector NAME --rebuild`.
async fn rebuild_projector(name: &str, log: Log, read: &str) -> anyhow::Result<()> {
    use allweather_projections::ReadStore;
    let projector = allweather_projections::by_name(name)
        .ok_or_else(|| anyhow::anyhow!("there is no projector named {name:?}"))?;
    let store = ReadStore::open(read).await.context("open the read store")?;
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(log.head().await?.position).with_style(
        indicatif::ProgressStyle::with_template(
            "rebuilding {msg} {bar:40} {pos}/{len} events ({per_sec})",
        )
        .context("progress bar template")?,
    );
    bar.set_message(name.to_owned());
    let at = allweather_projections::rebuild(&store, projector, &log, |p| bar.set_position(p))
        .await
        .with_context(|| format!("rebuild {name}"))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rebuilt {name} from {at} events in {seconds:.2} s ({:.0} events/s) and swapped it in at position {at}",
        at as f64 / seconds.max(1e-9)
    );
    log.shutdown().await;
    Ok(())
}

/// Runs the projector `name` until `stop`: following the log, or the JetStream mirror.
async fn projector(
    name: &str,
    log: Log,
    read: &str,
    mirror: Option<(async_nats::Client, RelaySettings)>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use allweather_projections::{JetStreamSource, LogSource, ReadStore, runner};
    let projector = allweather_projections::by_name(name)
        .ok_or_else(|| anyhow::anyhow!("there is no projector named {name:?}"))?;
    let store = ReadStore::open(read).await.context("open the read store")?;
    let (progress, at) = runner::prepare(&store, projector).await?;
    println!("projector {name} starting after position {}", at.position());
    std::io::stdout().flush().context("write to stdout")?;
    let until = || stop.clone().cancelled_owned();
    let result = match mirror {
        Some((client, mirror)) => {
            // The stream may not be there yet (the relay creates it; a new cluster elects
            // its JetStream leader first): try again until it is, or until stopped.
            let source = loop {
                let checkpoint = store.checkpoint(name).await?;
                let attempt = JetStreamSource::new(
                    client.clone(),
                    &mirror.stream,
                    name,
                    checkpoint,
                    log.clone(),
                );
                tokio::select! {
                    source = attempt => match source {
                        Ok(source) => break Some(source),
                        Err(e) => tracing::warn!(error = %e, "cannot follow the mirror yet; trying again"),
                    },
                    () = stop.cancelled() => break None,
                }
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = stop.cancelled() => break None,
                }
            };
            match source {
                Some(source) => runner::run(&store, projector, source, &progress, until()).await,
                None => Ok(()),
            }
        }
        None => {
            let source = LogSource::new(log.clone());
            runner::run(&store, projector, source, &progress, until()).await
        }
    };
    log.shutdown().await;
    result?;
    println!("projector {name} stopped at position {}", at.position());
    Ok(())
}

/// `allweather serve`: the service, with its mirror when given, until `stop`.
async fn serve(
    settings: Settings,
    mirror: Option<Mirror>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut app = App::build(settings).await?;
    if let Some(mirror) = mirror {
        app.with_mirror(mirror);
    }
    println!("listening on http://{}", app.local_addr());
    std::io::stdout().flush().context("write to stdout")?;
    app.run_until_stopped(stop).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The stop of a long-running subcommand: one token, cancelled by the one listener for
/// SIGTERM and Ctrl-C (installed only here, so that Ctrl-C still ends a short command at
/// once), and by whatever part of the service fails.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        let ctrl_c = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            () = ctrl_c => tracing::info!("Ctrl-C: draining and stopping"),
            () = term => tracing::info!("SIGTERM: draining and stopping"),
            () = cancel.cancelled() => return,
        }
        cancel.cancel();
    });
    stop
}

async fn verify(
    options: LogOptions,
    nats: Option<(String, RelaySettings)>,
) -> anyhow::Result<ExitCode> {
    let log = Log::open(options).await?;
    let head = log.head().await?;
    let bar = progress_bar(head.position, "verifying the chain")?;
    let report = log.verify(|position| bar.set_position(position)).await?;
    bar.finish_and_clear();
    if let Some(broken) = report.broken {
        println!(
            "CHAIN BROKEN at position {}: {broken}\n{} events before it verified; last good hash {}",
            broken.position(),
            report.verified,
            report.head
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "verified {} events; head hash {}",
        report.verified, report.head
    );
    let Some((url, mirror)) = nats else {
        return Ok(ExitCode::SUCCESS);
    };
    let client = async_nats::connect(config::nats_servers(&url))
        .await
        .with_context(|| format!("connect to NATS at {url}"))?;
    let bar = progress_bar(head.position, "comparing the mirror")?;
    let mirror = allweather_relay::verify_mirror(&log, client, &mirror, |s| bar.set_position(s))
        .await
        .map_err(|e| anyhow::anyhow!("compare the JetStream mirror: {e}"))?;
    bar.finish_and_clear();
    match mirror.difference {
        None => {
            println!(
                "mirror: {} messages match the log (log head {})",
                mirror.matching, mirror.log_head
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(difference) => {
            println!(
                "MIRROR DIFFERS: {difference}\n{} messages before it match",
                mirror.matching
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn progress_bar(len: u64, what: &str) -> anyhow::Result<indicatif::ProgressBar> {
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)");
    Ok(indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(&template).context("progress bar template")?,
    ))
}
