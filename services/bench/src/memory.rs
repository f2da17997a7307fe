//! `allweather bench memory`: the peak resident memory (`VmHWM`) of `allweather serve`,
//! run as a process of its own on a demo county's year (SQLite in a temporary data
//! directory, no other server):
//! - rebuilding all four read models from an empty read store, as `serve` does when it
//!   starts on a new one, until every projector has reached the head of the log;
//! - then started again on the built read models, holding the county, after answering
//!   each of the dashboard's queries.
//!
//! Peak RSS is read from `/proc/PID/status` just before the process is stopped (SIGTERM).

use crate::{RunArgs, Section};
use anyhow::Context as _;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt as _;

/// Options of `bench memory`.
#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    /// Members of the demo county (default 2,000; 200 with --quick).
    #[arg(long)]
    members: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
}

pub async fn run(args: MemoryArgs) -> anyhow::Result<()> {
    let section = section(args.members, &args.run).await?;
    args.run.report(&section)
}

/// Longest the service may take to rebuild or catch up.
const CATCH_UP: Duration = Duration::from_secs(600);
/// The dashboard's queries for the demo's year, each answered once before memory is read.
const QUERIES: [&str; 6] = [
    "/",
    "/healthz",
    "/api/v1/rankings/branches?year=2025",
    "/api/v1/leaderboards/volunteers?year=2025&limit=15",
    "/api/v1/wishes?limit=1000",
    "/api/v1/wishes/timings?year=2025",
];

/// The `allweather` program measured: `ALLWEATHER_BIN` (which `allweather bench` sets to
/// itself), or the `allweather` built beside this program.
fn allweather_program() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("ALLWEATHER_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .context("find this program")?
            .with_file_name(format!("allweather{}", std::env::consts::EXE_SUFFIX)),
    };
    anyhow::ensure!(
        path.is_file(),
        "there is no allweather program at {}: build it (cargo build --release -p allweather) or set ALLWEATHER_BIN",
        path.display()
    );
    Ok(path)
}

/// What one `serve` did.
struct Served {
    /// Peak and current resident memory, in bytes.
    peak: u64,
    now: u64,
    /// Seconds from start until every projector reached the head.
    ready: f64,
    head: u64,
}

pub(crate) async fn section(members: Option<usize>, run: &RunArgs) -> anyhow::Result<Section> {
    let members = members.unwrap_or(if run.quick { 200 } else { 2_000 });
    let exe = allweather_program()?;
    let dir = tempfile::tempdir().context("create a temporary directory")?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message(format!("writing a demo county of {members} members"));
    let output = child(&exe)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--members", &members.to_string(), "--year", "2025"])
        .stdin(Stdio::null())
        .output()
        .await
        .context("run allweather demo")?;
    anyhow::ensure!(
        output.status.success(),
        "allweather demo failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    // "log: N events, head hash …"
    let written = String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("log: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .context("allweather demo did not say how many events it wrote")?;
    bar.set_message("serve, rebuilding every read model");
    let rebuilding = serve(&exe, dir.path(), false).await?;
    bar.set_message("serve, holding the county");
    let holding = serve(&exe, dir.path(), true).await?;
    bar.finish_and_clear();

    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let head = holding.head;
    // Only the claim-expiry scheduler of `serve` could add to what the demo wrote.
    let expired = if head > written {
        format!(
            "; `serve`'s claim-expiry scheduler appended {} more",
            head - written
        )
    } else {
        String::new()
    };
    let mut markdown = format!(
        "`allweather serve` on a demo county of {members} members for 2025, SQLite; one run. \
         The demo wrote {written} events{expired}.\n\n\
         | process | peak RSS MiB | RSS at the end MiB | seconds to reach the head |\n\
         |---|---:|---:|---:|\n"
    );
    for (what, s) in [
        (
            "serve, rebuilding all four read models from an empty read store",
            &rebuilding,
        ),
        (
            "serve, holding the county, after answering the dashboard's queries",
            &holding,
        ),
    ] {
        let _ = writeln!(
            markdown,
            "| {what} | {:.0} | {:.0} | {:.1} |",
            mib(s.peak),
            mib(s.now),
            s.ready
        );
    }
    let json = json!({
        "members": members, "events_written_by_the_demo": written, "events": head,
        "rebuild": {"peak_rss_bytes": rebuilding.peak, "rss_bytes": rebuilding.now, "seconds": rebuilding.ready},
        "holding": {"peak_rss_bytes": holding.peak, "rss_bytes": holding.now, "seconds": holding.ready},
    });
    Ok(Section {
        name: "memory",
        title: "Memory: peak RSS of serve on a demo county",
        markdown,
        json,
    })
}

/// Starts `serve` on `data_dir`, waits until every projector reached the head, answers
/// the dashboard's queries when `query`, reads its memory and stops it.
async fn serve(exe: &Path, data_dir: &Path, query: bool) -> anyhow::Result<Served> {
    let started = Instant::now();
    let mut child = child(exe)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start allweather serve")?;
    let pid = child.id().context("serve's process id")?;
    let stdout = child.stdout.take().context("serve's output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Ok(url.trim().to_owned());
            }
        }
        anyhow::bail!("serve ended before it listened")
    })
    .await
    .context("serve did not listen within 60 s")??;
    // Keep reading its output, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let http = reqwest::Client::new();
    let head = caught_up(&http, &base).await?;
    let ready = started.elapsed().as_secs_f64();
    if query {
        for path in QUERIES {
            let response = http
                .get(format!("{base}{path}"))
                .send()
                .await
                .with_context(|| format!("GET {path}"))?;
            anyhow::ensure!(
                response.status().is_success(),
                "GET {path} answered {}",
                response.status()
            );
            response
                .bytes()
                .await
                .with_context(|| format!("read {path}"))?;
        }
    }
    let (peak, now) = memory(pid)?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).context("a process id")?),
        nix::sys::signal::Signal::SIGTERM,
    )
    .context("stop serve")?;
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .context("serve did not stop within 60 s of SIGTERM")??;
    anyhow::ensure!(status.success(), "serve stopped with {status}");
    Ok(Served {
        peak,
        now,
        ready,
        head,
    })
}

/// This program as a child that runs on the embedded SQLite in its `--data-dir`, whatever
/// the bench's own environment names (`DATABASE_URL`, `ALLWEATHER_NATS`, …).
fn child(exe: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(exe);
    for (name, _) in std::env::vars_os() {
        if name == "DATABASE_URL" || name.to_string_lossy().starts_with("ALLWEATHER_") {
            command.env_remove(name);
        }
    }
    command
}

/// Waits until `/metrics` shows every projector with no lag; the head of the log.
async fn caught_up(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .context("GET /metrics")?
            .text()
            .await
            .context("read /metrics")?;
        let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        let lags: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("allweather_projector_lag{"))
            .filter_map(value)
            .collect();
        let head = text
            .lines()
            .find(|l| l.starts_with("allweather_log_head_position "))
            .and_then(value)
            .unwrap_or(0.0);
        if head > 0.0 && lags.len() == 4 && lags.iter().all(|l| *l == 0.0) {
            return Ok(head as u64);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "serve's projectors did not reach the head within {} s",
            CATCH_UP.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `VmHWM` and `VmRSS` of process `pid`, in bytes.
fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .with_context(|| format!("{name} in /proc/{pid}/status"))
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}
