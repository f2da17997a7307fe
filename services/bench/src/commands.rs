//! `allweather bench commands`: commands per second and their latency over HTTP, through
//! the whole service (`App`: the HTTP adapter, the command service, the log, the four
//! projectors following it), on SQLite or, with `--database`, a scratch PostgreSQL
//! database:
//! - **a realistic mix** from 64 concurrent clients, each acting as the members it
//!   represents and their secretaries: half `LogServiceHours`, a fifth
//!   `VerifyServiceHours`, and `ClaimWish` then `FulfilWish`, and `SignDualCard`, a tenth
//!   each; every command must be accepted;
//! - **a claim storm**: 1,000 members each claim one of 100 open wishes at the same
//!   moment; exactly one claim per wish must win, the rest are refused as already claimed;
//! - **the peer's workload over HTTP**: `RecordBranchMeeting` (one event per command) from
//!   the same clients, as `bench peer` runs it in-process on both sides;
//! - **the public rankings**: the same number of anonymous clients reading the branch
//!   rankings of the county the load left, answered from one computation per position.
//!
//! The county (32 branches, the mix's members with their cards and secretaries, the
//! wishes, the storm's members) is set up through the command service before the clock
//! starts. The service's clock is fixed at 1 December 2026, so the dates are the same on
//! every run. The baseline is the cqrs-es/postgres-es peer (`bench peer`) at the same
//! number of concurrent callers on the same PostgreSQL.

use crate::measure::{Backend, Rate, Scratch, summary};
use crate::{RunArgs, Section};
use allweather_api::{App, CommandOptions, CommandService, Limits, Settings, TokenKey};
use allweather_command::Claims;
use allweather_domain::command::{
    AdoptRules, AppointSecretary, AssignServiceBranch, ClaimWish, FulfilWish, IssueDualCard,
    LogServiceHours, PublishWish, RecordBranchMeeting, RegisterBranch, RegisterMember,
    SignDualCard, VerifyServiceHours,
};
use allweather_domain::values::{BranchKind, Category, Rating, Side, WishOrigin, Year};
use allweather_domain::{Command, Principal};
use allweather_events::Role;
use allweather_events::Timestamp;
use allweather_log::LogOptions;
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Concurrent clients of the mix, by default.
pub(crate) const CLIENTS: usize = 64;
/// Branches of each kind (unit, service).
const BRANCHES: usize = 16;
/// Members each mix client acts for.
const MEMBERS_PER_CLIENT: usize = 8;
/// The county year of the bench; the service's clock stands at its 1 December.
const YEAR: i32 = 2026;

/// Options of `bench commands`.
#[derive(Debug, clap::Args)]
pub struct CommandsArgs {
    /// A PostgreSQL server for the log and the read models (scratch databases), and for
    /// the peer's baseline; without it, SQLite and no baseline.
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    /// The peer bench's program (default: built from services/bench/peer with cargo).
    #[arg(long, env = "ALLWEATHER_PEER")]
    peer: Option<std::path::PathBuf>,
    /// Concurrent clients of the mix.
    #[arg(long, default_value_t = CLIENTS as u16, value_parser = clap::value_parser!(u16).range(4..=1024))]
    clients: u16,
    #[command(flatten)]
    run: RunArgs,
}

pub async fn run(args: CommandsArgs) -> anyhow::Result<()> {
    let clients = usize::from(args.clients);
    let baseline = match &args.database {
        Some(url) => {
            Some(crate::peer::baseline(url, args.peer.as_deref(), clients, &args.run).await?)
        }
        None => None,
    };
    let section = section(args.database.as_deref(), clients, baseline, &args.run).await?;
    args.run.report(&section)
}

/// One run's figures.
#[derive(Debug, Clone)]
struct Figures {
    /// Mix commands accepted per second.
    mix_rate: f64,
    /// Mix latency p50, p99, max (ms).
    mix: [f64; 3],
    /// Mix commands by name, with their p50 and p99 (ms).
    by_name: BTreeMap<&'static str, (usize, f64, f64)>,
    /// Storm answers per second (accepted or refused).
    storm_rate: f64,
    /// Storm latency p50, p99, max (ms).
    storm: [f64; 3],
    /// Storm answers by status and code.
    storm_answers: BTreeMap<String, usize>,
    /// The peer's workload over HTTP: commands/s, and latency p50, p99, max (ms).
    meetings_rate: f64,
    /// The public rankings read by anonymous clients: answers/s, and latency p50, p99,
    /// max (ms).
    rankings_rate: f64,
    rankings: [f64; 3],
    meetings: [f64; 3],
}

/// The mix at `clients` clients and the claim storm, against `baseline` (the peer's
/// commands/s at the same number of callers), medians of the runs.
pub(crate) async fn section(
    database: Option<&str>,
    clients: usize,
    baseline: Option<Rate>,
    run: &RunArgs,
) -> anyhow::Result<Section> {
    let runs = run.runs();
    let backend = match database {
        Some(url) => Backend::Postgres(url.to_owned()),
        None => Backend::Sqlite,
    };
    let (per_client, storm_clients, storm_wishes) = if run.quick {
        (20, 200, 20)
    } else {
        (300, 1_000, 100)
    };
    let bar = indicatif::ProgressBar::new(runs as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs of {msg}")
            .context("progress bar template")?,
    );
    bar.set_message(format!(
        "{} mix commands from {clients} clients and a storm of {storm_clients} claims",
        per_client * clients
    ));
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        let shape = Shape {
            clients,
            per_client,
            storm_clients,
            storm_wishes,
        };
        all.push(measure(&backend, &shape).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let median = |f: &dyn Fn(&Figures) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        Rate {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    };
    let mix_rate = median(&|f| f.mix_rate);
    let storm_rate = median(&|f| f.storm_rate);
    let (mix_p50, mix_p99) = (median(&|f| f.mix[0]), median(&|f| f.mix[1]));
    let (storm_p50, storm_p99) = (median(&|f| f.storm[0]), median(&|f| f.storm[1]));
    let meetings_rate = median(&|f| f.meetings_rate);
    let (meetings_p50, meetings_p99) = (median(&|f| f.meetings[0]), median(&|f| f.meetings[1]));
    let meetings_count = clients * per_client;
    let rankings_rate = median(&|f| f.rankings_rate);
    let (rankings_p50, rankings_p99) = (median(&|f| f.rankings[0]), median(&|f| f.rankings[1]));
    let vs =
        |rate: f64| baseline.map_or_else(|| "–".to_owned(), |b| format!("{:.1}×", rate / b.median));
    let baseline_text = baseline.map_or_else(
        || "not measured (no --database)".to_owned(),
        |b| format!("{:.0} commands/s", b.median),
    );
    let mut markdown = format!(
        "{} log and read models; the service in-process on loopback HTTP with its four \
         projectors running. Baseline: the cqrs-es/postgres-es peer's single-event command \
         at {clients} callers on the same PostgreSQL, {baseline_text}.\n\n\
         | workload | commands/s (median of {runs}) | min | max | p50 ms | p99 ms | vs peer at {clients} callers |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        backend.name()
    );
    let _ = writeln!(
        markdown,
        "| realistic mix, {clients} clients, {} commands | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {} |",
        per_client * clients,
        mix_rate.median,
        mix_rate.min,
        mix_rate.max,
        mix_p50.median,
        mix_p99.median,
        vs(mix_rate.median)
    );
    let _ = writeln!(
        markdown,
        "| claim storm, {storm_clients} clients on {storm_wishes} wishes (answers/s) | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {} |",
        storm_rate.median,
        storm_rate.min,
        storm_rate.max,
        storm_p50.median,
        storm_p99.median,
        vs(storm_rate.median)
    );
    let _ = writeln!(
        markdown,
        "| the peer's workload over HTTP: RecordBranchMeeting, {clients} clients, {meetings_count} commands | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {} |",
        meetings_rate.median,
        meetings_rate.min,
        meetings_rate.max,
        meetings_p50.median,
        meetings_p99.median,
        vs(meetings_rate.median)
    );
    let _ = writeln!(
        markdown,
        "| the public branch rankings, {clients} anonymous clients, {meetings_count} reads (answers/s) | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | – |",
        rankings_rate.median,
        rankings_rate.min,
        rankings_rate.max,
        rankings_p50.median,
        rankings_p99.median,
    );
    let last = all.last().context("no run")?;
    let mix_names: Vec<String> = last
        .by_name
        .iter()
        .map(|(name, (n, p50, p99))| format!("{n} × {name} (p50 {p50:.1} ms, p99 {p99:.1} ms)"))
        .collect();
    let answers: Vec<String> = last
        .storm_answers
        .iter()
        .map(|(what, n)| format!("{n} × {what}"))
        .collect();
    let _ = write!(
        markdown,
        "\nThe last run's mix: {}.\nIts storm: {} — one accepted claim per wish.\n",
        mix_names.join(", "),
        answers.join(", ")
    );
    let json = json!({
        "backend": backend.name(), "clients": clients, "runs": runs,
        "baseline": baseline.map(|b| json!({"workload": "cqrs-es/postgres-es peer, single-event command", "callers": clients, "commands_per_s": b.median, "min": b.min, "max": b.max})),
        "mix": {"commands": per_client * clients, "commands_per_s": mix_rate.median, "min": mix_rate.min, "max": mix_rate.max,
                "p50_ms": mix_p50.median, "p99_ms": mix_p99.median,
                "ratio_to_peer": baseline.map(|b| mix_rate.median / b.median),
                "by_command": last.by_name.iter().map(|(k, (n, p50, p99))| (k.to_string(), json!({"count": n, "p50_ms": p50, "p99_ms": p99}))).collect::<serde_json::Map<_, _>>()},
        "storm": {"clients": storm_clients, "wishes": storm_wishes, "answers_per_s": storm_rate.median, "min": storm_rate.min, "max": storm_rate.max,
                  "p50_ms": storm_p50.median, "p99_ms": storm_p99.median, "answers": last.storm_answers},
        "meetings": {"commands": meetings_count, "commands_per_s": meetings_rate.median, "min": meetings_rate.min, "max": meetings_rate.max,
                     "p50_ms": meetings_p50.median, "p99_ms": meetings_p99.median,
                     "ratio_to_peer": baseline.map(|b| meetings_rate.median / b.median)},
        "public_rankings": {"clients": clients, "reads": meetings_count, "answers_per_s": rankings_rate.median, "min": rankings_rate.min, "max": rankings_rate.max,
                            "p50_ms": rankings_p50.median, "p99_ms": rankings_p99.median},
    });
    Ok(Section {
        name: "commands",
        title: "Commands over HTTP: a realistic mix and a claim storm; the public rankings",
        markdown,
        json,
    })
}

/// How much one run does.
struct Shape {
    clients: usize,
    per_client: usize,
    storm_clients: usize,
    storm_wishes: usize,
}

/// The county the load acts on.
struct County {
    units: Vec<Uuid>,
    services: Vec<Uuid>,
    /// The mix's members; member `i` is in unit branch `i % BRANCHES` and service branch
    /// `i % BRANCHES`. Member `b` is unit branch `b`'s secretary, member `BRANCHES + b`
    /// service branch `b`'s.
    members: Vec<Uuid>,
    /// The mix's wishes; client `c` claims `c`, `c + clients`, …
    wishes: Vec<Uuid>,
    storm_members: Vec<Uuid>,
    storm_wishes: Vec<Uuid>,
}

impl County {
    fn unit_secretary(&self, member: usize) -> (Uuid, Uuid) {
        let b = member % BRANCHES;
        (self.members[b], self.units[b])
    }

    fn service_secretary(&self, member: usize) -> (Uuid, Uuid) {
        let b = member % BRANCHES;
        (self.members[BRANCHES + b], self.services[b])
    }
}

async fn measure(backend: &Backend, shape: &Shape) -> anyhow::Result<Figures> {
    let scratch = Scratch::create(backend).await?;
    let read_store = scratch.read_store_url();
    // A key for the bench's own tokens, on loopback, for one run.
    let tokens = TokenKey::from_secret(vec![7u8; 32])?;
    let at: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().context("the bench's date")?;
    let app = App::build(Settings {
        listen: "127.0.0.1:0".parse().context("the listen address")?,
        log: LogOptions::new(scratch.url()),
        tokens: tokens.clone(),
        commands: CommandOptions {
            clock: Arc::new(move || at),
            rate_limit: None,
            ..CommandOptions::default()
        },
        read_store,
        run_projectors: true,
        // Every client of the load comes from loopback: its share is the whole.
        limits: Limits {
            connections_per_address: Limits::default().connections,
            anonymous: None,
            ..Limits::default()
        },
    })
    .await?;
    let root = format!("http://{}", app.local_addr());
    let base = format!("{root}/api/v1/commands");
    let service = app.commands().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let served = tokio::spawn(app.run_until_stopped(stop.clone()));

    let county = Arc::new(set_up(&service, shape).await?);
    let http = Arc::new(Http {
        client: reqwest::Client::new(),
        base,
        root,
        tokens,
    });
    let (mix_rate, mix, by_name) = mix(&http, &county, shape).await?;
    let (storm_rate, storm, storm_answers) = storm(&http, &county).await?;
    let (meetings_rate, meetings) = meetings(&service, &http, shape).await?;
    let head = service.log().head().await?.position;
    let (rankings_rate, rankings) = rankings(&http, shape, head).await?;

    // The client's idle connections keep the service's state (its pools) alive: they go
    // first, then the service, then the last handle on the log (its commit listener), so
    // that nothing is connected to the scratch database when it is dropped.
    drop(http);
    stop.cancel();
    served.await.context("the service panicked")??;
    drop(service);
    drop(scratch);
    Ok(Figures {
        mix_rate,
        mix,
        by_name,
        storm_rate,
        storm,
        storm_answers,
        meetings_rate,
        meetings,
        rankings_rate,
        rankings,
    })
}

fn admin() -> Principal {
    Principal {
        subject: "bench-admin".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    }
}

/// Runs `commands` through `service` as a committee admin, 32 at a time; each must be
/// accepted.
async fn all_accepted(service: &CommandService, commands: Vec<Command>) -> anyhow::Result<()> {
    let admin = admin();
    futures::stream::iter(commands)
        .map(|command| {
            let (service, admin) = (service.clone(), admin.clone());
            async move {
                let name = command.name();
                service
                    .submit(&admin, command, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("setting up the county, {name} was refused: {e}"))
            }
        })
        .buffer_unordered(32)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// The county, through the command service (untimed).
async fn set_up(service: &CommandService, shape: &Shape) -> anyhow::Result<County> {
    let ids = |n: usize| (0..n).map(|_| Uuid::now_v7()).collect::<Vec<_>>();
    let county = County {
        units: ids(BRANCHES),
        services: ids(BRANCHES),
        members: ids(shape.clients * MEMBERS_PER_CLIENT),
        wishes: ids(shape.clients * shape.per_client.div_ceil(10)),
        storm_members: ids(shape.storm_clients),
        storm_wishes: ids(shape.storm_wishes),
    };
    let rules: Value =
        toml::from_str(include_str!("../../../rules/2026.toml")).context("read rules/2026.toml")?;
    let year = Year::new(i64::from(YEAR))?;
    all_accepted(service, vec![AdoptRules { year, rules }.into()]).await?;
    let mut branches = Vec::new();
    for (b, (unit, service_branch)) in county.units.iter().zip(&county.services).enumerate() {
        branches.push(
            RegisterBranch {
                branch_id: Some(*unit),
                name: format!("unit {b}"),
                kind: BranchKind::Unit,
                community: None,
            }
            .into(),
        );
        branches.push(
            RegisterBranch {
                branch_id: Some(*service_branch),
                name: format!("community {b}"),
                kind: BranchKind::Service,
                community: Some(format!("community {b}")),
            }
            .into(),
        );
    }
    all_accepted(service, branches).await?;
    let joined_on = NaiveDate::from_ymd_opt(2020, 1, 1).context("1 January 2020")?;
    let register = |(i, m): (usize, &Uuid)| {
        Command::from(RegisterMember {
            member_id: Some(*m),
            name: format!("member {i}"),
            unit_branch_id: county.units[i % BRANCHES],
            joined_on,
            cadre: None,
        })
    };
    all_accepted(
        service,
        county
            .members
            .iter()
            .chain(&county.storm_members)
            .enumerate()
            .map(register)
            .collect(),
    )
    .await?;
    let mut cards = Vec::new();
    for (i, m) in county.members.iter().enumerate() {
        cards.push(
            AssignServiceBranch {
                member_id: *m,
                service_branch_id: county.services[i % BRANCHES],
            }
            .into(),
        );
    }
    all_accepted(service, cards).await?;
    let mut appointments = Vec::new();
    for b in 0..BRANCHES {
        appointments.push(
            AppointSecretary {
                branch_id: county.units[b],
                member_id: county.members[b],
            }
            .into(),
        );
        appointments.push(
            AppointSecretary {
                branch_id: county.services[b],
                member_id: county.members[BRANCHES + b],
            }
            .into(),
        );
    }
    all_accepted(service, appointments).await?;
    let issue = county
        .members
        .iter()
        .map(|m| {
            Command::from(IssueDualCard {
                member_id: Some(*m),
                year,
                all_members: None,
            })
        })
        .collect();
    all_accepted(service, issue).await?;
    let deadline = Timestamp::parse("2026-12-31T00:00:00Z").map_err(anyhow::Error::msg)?;
    let publish = county
        .wishes
        .iter()
        .chain(&county.storm_wishes)
        .map(|w| {
            Command::from(PublishWish {
                wish_id: Some(*w),
                origin: WishOrigin::ServiceNeed,
                title: "a winter coat".into(),
                beneficiary: "a bench resident".into(),
                beneficiary_contact: None,
                beneficiary_id: None,
                category: Category::CommunityService,
                deadline,
                volunteers: None,
            })
        })
        .collect();
    all_accepted(service, publish).await?;
    Ok(county)
}

/// The peer's workload over HTTP: branches registered first (untimed), at most about 20
/// meetings each, no two clients on one branch; then each client records as many
/// meetings as it sent mix commands, one after another, as a committee admin. Commands/s and the latency summary.
async fn meetings(
    service: &CommandService,
    http: &Arc<Http>,
    shape: &Shape,
) -> anyhow::Result<(f64, [f64; 3])> {
    let per_client = shape.per_client;
    let branches: Vec<Uuid> = (0..shape.clients * per_client.div_ceil(20))
        .map(|_| Uuid::now_v7())
        .collect();
    all_accepted(
        service,
        branches
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Command::from(RegisterBranch {
                    branch_id: Some(*b),
                    name: format!("meeting branch {i}"),
                    kind: BranchKind::Unit,
                    community: None,
                })
            })
            .collect(),
    )
    .await?;
    let token = Arc::new(http.token(Role::CommitteeAdmin, None, None)?);
    let branches = Arc::new(branches);
    let date = NaiveDate::from_ymd_opt(YEAR, 11, 30).context("30 November")?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..shape.clients)
        .map(|c| {
            let (http, token, branches) = (http.clone(), token.clone(), branches.clone());
            let clients = shape.clients;
            tokio::spawn(async move {
                let mine: Vec<&Uuid> = branches.iter().skip(c).step_by(clients).collect();
                let mut latencies = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let meeting = Command::from(RecordBranchMeeting {
                        branch_id: *mine[i % mine.len()],
                        date,
                        topic: "monthly branch meeting".into(),
                        attendees: Vec::new(),
                    });
                    let (status, code, took) = http.command(&token, &meeting).await?;
                    anyhow::ensure!(
                        status == 200,
                        "RecordBranchMeeting was refused with {status} ({code})"
                    );
                    latencies.push(took);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    gathered(started, tasks).await
}

/// Every client's latencies once all are done: answers per second since `started`, and
/// the p50, p99 and max (ms).
async fn gathered(
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>>,
) -> anyhow::Result<(f64, [f64; 3])> {
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("a client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((latencies.len() as f64 / elapsed, summary(latencies)))
}

/// The public branch rankings of the year, read `per_client` times by each of
/// `shape.clients` anonymous clients at once, once the read model has applied the load
/// (`head`): the rankings at rest, as the public reads them; every answer must be 200.
async fn rankings(http: &Arc<Http>, shape: &Shape, head: u64) -> anyhow::Result<(f64, [f64; 3])> {
    let url = Arc::new(format!(
        "{}/api/v1/rankings/branches?year={YEAR}",
        http.root
    ));
    // The read model catches up with the load first (503 while it has not).
    loop {
        let r = http
            .client
            .get(format!("{url}&min_position={head}"))
            .send()
            .await?;
        match r.status().as_u16() {
            200 => break,
            503 => continue,
            status => anyhow::bail!("the rankings answered {status} at position {head}"),
        }
    }
    let per_client = shape.per_client;
    let started = Instant::now();
    let tasks: Vec<_> = (0..shape.clients)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let sent = Instant::now();
                    let r = http.client.get(url.as_str()).send().await?;
                    let status = r.status();
                    r.bytes().await?;
                    anyhow::ensure!(status == 200, "the rankings answered {status}");
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    gathered(started, tasks).await
}

/// The HTTP client of the load, and the tokens it presents.
struct Http {
    client: reqwest::Client,
    base: String,
    /// The service's address (`http://host:port`).
    root: String,
    tokens: TokenKey,
}

impl Http {
    /// A token, valid for a day, for `role` as `member` of `branch`.
    fn token(
        &self,
        role: Role,
        member: Option<Uuid>,
        branch: Option<Uuid>,
    ) -> anyhow::Result<String> {
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        self.tokens.issue(&Claims {
            sub: member.map_or_else(|| format!("bench-{}", role.as_str()), |m| m.to_string()),
            role: role.as_str().into(),
            member,
            branch,
            iat: now,
            exp: now + 86_400,
            jti: None,
        })
    }

    /// POSTs command `name`; its status, code (when refused) and latency.
    async fn command(
        &self,
        token: &str,
        command: &Command,
    ) -> anyhow::Result<(u16, String, Duration)> {
        let name = command.name();
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/{name}", self.base))
            .bearer_auth(token)
            .json(&command.body())
            .send()
            .await
            .with_context(|| format!("POST {name}"))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let took = started.elapsed();
        let code = if status == 200 {
            String::new()
        } else {
            format!(
                "{} {}: {}",
                answer["code"].as_str().unwrap_or("?"),
                answer["rule"].as_str().unwrap_or(""),
                answer["detail"].as_str().unwrap_or("")
            )
        };
        Ok((status, code, took))
    }
}

/// What a mix client does next, in a cycle of ten.
const CYCLE: [&str; 10] = [
    "LogServiceHours",
    "LogServiceHours",
    "LogServiceHours",
    "LogServiceHours",
    "VerifyServiceHours",
    "LogServiceHours",
    "ClaimWish",
    "FulfilWish",
    "SignDualCard",
    "VerifyServiceHours",
];

/// The mix: `shape.clients` clients, `shape.per_client` commands each. Answers the
/// commands/s, the latency summary and the latencies by command.
async fn mix(
    http: &Arc<Http>,
    county: &Arc<County>,
    shape: &Shape,
) -> anyhow::Result<(f64, [f64; 3], BTreeMap<&'static str, (usize, f64, f64)>)> {
    let started = Instant::now();
    let clients: Vec<_> = (0..shape.clients)
        .map(|c| {
            let (http, county) = (http.clone(), county.clone());
            let (clients, per_client) = (shape.clients, shape.per_client);
            tokio::spawn(async move { client(&http, &county, clients, per_client, c).await })
        })
        .collect();
    let mut results = Vec::with_capacity(clients.len());
    for c in clients {
        results.push(c.await.context("a mix client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut by_name: HashMap<&'static str, Vec<Duration>> = HashMap::new();
    let mut every = Vec::new();
    for (name, took) in results.into_iter().flatten() {
        by_name.entry(name).or_default().push(took);
        every.push(took);
    }
    let count = every.len();
    let by_name = by_name
        .into_iter()
        .map(|(name, latencies)| {
            let n = latencies.len();
            let [p50, p99, _] = summary(latencies);
            (name, (n, p50, p99))
        })
        .collect();
    Ok((count as f64 / elapsed, summary(every), by_name))
}

/// One mix client: acts for members `c`, `c + clients`, … and their secretaries.
async fn client(
    http: &Http,
    county: &County,
    clients: usize,
    per_client: usize,
    c: usize,
) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    let mine: Vec<usize> = (c..county.members.len()).step_by(clients).collect();
    let mut wishes = county.wishes.iter().skip(c).step_by(clients);
    // Card sides left to sign: (member, side), where the signer is not the member.
    let mut sides: Vec<(usize, Side)> = mine
        .iter()
        .flat_map(|&m| [(m, Side::Community), (m, Side::Unit)])
        .filter(|&(m, side)| {
            let (secretary, _) = if side == Side::Unit {
                county.unit_secretary(m)
            } else {
                county.service_secretary(m)
            };
            secretary != county.members[m]
        })
        .collect();
    let mut pending: Vec<(Uuid, usize)> = Vec::new();
    let mut claimed: Vec<(Uuid, usize)> = Vec::new();
    let mut logged = vec![0i64; mine.len()];
    let mut tokens: HashMap<(Role, Option<Uuid>, Option<Uuid>), String> = HashMap::new();
    let mut token = |role, member, branch| -> anyhow::Result<String> {
        if let Some(t) = tokens.get(&(role, member, branch)) {
            return Ok(t.clone());
        }
        let t = http.token(role, member, branch)?;
        tokens.insert((role, member, branch), t.clone());
        Ok(t)
    };
    let jan_1 = NaiveDate::from_ymd_opt(YEAR, 1, 1).context("1 January")?;
    let year = Year::new(i64::from(YEAR))?;
    let mut done = Vec::with_capacity(per_client);
    for i in 0..per_client {
        let k = i % mine.len();
        let m = mine[k];
        let member = county.members[m];
        let mut name = CYCLE[i % CYCLE.len()];
        // Each command falls back to logging hours when it has nothing to act on.
        let wish = if name == "ClaimWish" {
            wishes.next()
        } else {
            None
        };
        if (name == "ClaimWish" && wish.is_none())
            || (name == "FulfilWish" && claimed.is_empty())
            || (name == "VerifyServiceHours" && pending.is_empty())
            || (name == "SignDualCard" && sides.is_empty())
        {
            name = "LogServiceHours";
        }
        let (token, command): (String, Command) = match name {
            "ClaimWish" => {
                let wish = *wish.context("a wish")?;
                claimed.push((wish, m));
                (
                    token(Role::Member, Some(member), None)?,
                    ClaimWish {
                        wish_id: wish,
                        member_id: member,
                    }
                    .into(),
                )
            }
            "FulfilWish" => {
                let (wish, claimer) = claimed.pop().context("a claim")?;
                (
                    token(Role::Member, Some(county.members[claimer]), None)?,
                    FulfilWish {
                        wish_id: wish,
                        evidence: "delivered, signed for by the resident".into(),
                        member_id: None,
                    }
                    .into(),
                )
            }
            "VerifyServiceHours" => {
                let (record, owner) = pending.remove(0);
                let (secretary, branch) = county.service_secretary(owner);
                let token = if secretary == county.members[owner] {
                    token(Role::CommitteeAdmin, None, None)?
                } else {
                    token(Role::Secretary, Some(secretary), Some(branch))?
                };
                (token, VerifyServiceHours { record_id: record }.into())
            }
            "SignDualCard" => {
                let (owner, side) = sides.pop().context("a side")?;
                let (secretary, branch) = if side == Side::Unit {
                    county.unit_secretary(owner)
                } else {
                    county.service_secretary(owner)
                };
                (
                    token(Role::Secretary, Some(secretary), Some(branch))?,
                    SignDualCard {
                        member_id: county.members[owner],
                        year,
                        side,
                        opinion: Rating::BasicallyQualified,
                        remarks: "does the work asked of a member".into(),
                    }
                    .into(),
                )
            }
            _ => {
                // One entry a day per member: never over the day's hours, never a duplicate.
                let record = Uuid::now_v7();
                let date = jan_1 + chrono::Duration::days(logged[k] % 300);
                logged[k] += 1;
                pending.push((record, m));
                (
                    token(Role::Member, Some(member), None)?,
                    LogServiceHours {
                        record_id: Some(record),
                        member_id: member,
                        date,
                        hours: 1.5,
                        category: Category::CommunityService,
                        activity: format!("reading at the care home, visit {}", logged[k]),
                        channel: None,
                        campaign_id: None,
                        start_time: None,
                        organising_branch_id: None,
                    }
                    .into(),
                )
            }
        };
        let (status, code, took) = http.command(&token, &command).await?;
        anyhow::ensure!(
            status == 200,
            "the mix's {name} was refused with {status} ({code}); every mix command must be accepted"
        );
        done.push((name, took));
    }
    Ok(done)
}

/// The storm: every storm member claims wish `i % wishes` at once. Answers per second,
/// the latency summary, and the answers by status and code.
async fn storm(
    http: &Arc<Http>,
    county: &County,
) -> anyhow::Result<(f64, [f64; 3], BTreeMap<String, usize>)> {
    let n = county.storm_wishes.len();
    let mut requests = Vec::with_capacity(county.storm_members.len());
    for (i, member) in county.storm_members.iter().enumerate() {
        let wish = county.storm_wishes[i % n];
        requests.push((
            wish,
            http.token(Role::Member, Some(*member), None)?,
            Command::from(ClaimWish {
                wish_id: wish,
                member_id: *member,
            }),
        ));
    }
    // Every client is ready before the gate opens, and all go at once.
    let gate = Arc::new(tokio::sync::Barrier::new(requests.len() + 1));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(wish, token, claim)| {
            let (gate, http) = (gate.clone(), http.clone());
            tokio::spawn(async move {
                gate.wait().await;
                let (status, code, took) = http.command(&token, &claim).await?;
                anyhow::Ok((wish, status, code, took))
            })
        })
        .collect();
    gate.wait().await;
    let started = Instant::now();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.context("a storm client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut winners: HashMap<Uuid, usize> = HashMap::new();
    let mut by_answer: BTreeMap<String, usize> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(answers.len());
    for (wish, status, code, took) in &answers {
        latencies.push(*took);
        if *status == 200 {
            *winners.entry(*wish).or_default() += 1;
            *by_answer.entry("200 claimed".into()).or_default() += 1;
        } else {
            let code = code.split(':').next().unwrap_or_default().trim();
            *by_answer.entry(format!("{status} {code}")).or_default() += 1;
        }
    }
    anyhow::ensure!(
        winners.len() == n && winners.values().all(|w| *w == 1),
        "the storm should end with each of its {n} wishes claimed exactly once; it ended with {:?}",
        by_answer
    );
    Ok((
        answers.len() as f64 / elapsed,
        summary(latencies),
        by_answer,
    ))
}
