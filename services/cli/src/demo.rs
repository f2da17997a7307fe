//! `allweather demo`: a realistic county's year through the real command path.

use crate::config::{Config, Store};
use allweather_api::CommandService;
use allweather_demo::{DemoOptions, SimClock};
use allweather_events::Timestamp;
use allweather_log::{Log, LogClock};
use anyhow::Context as _;
use chrono::Datelike as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Generates the county of `options` into the log `config` and `store` name.
pub(crate) async fn demo(
    config: &Config,
    store: &Store,
    options: DemoOptions,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let plan = allweather_demo::plan(options)?;
    let first = plan.steps.first().map(|s| s.at).unwrap_or_default();
    // The simulated year's clock stamps both the commands and the log, so the same seed
    // writes the same log to the hash.
    let clock = SimClock::new(first);
    let mut log_options = config.log(store, true)?;
    let log_clock = clock.clone();
    log_options.clock = Some(LogClock(Arc::new(move || {
        Timestamp::from_datetime(log_clock.now())
    })));
    let log = Log::open(log_options).await?;
    let command_clock = clock.clone();
    let mut commands = config.commands();
    commands.county_offset = options.county_offset;
    commands.clock = Arc::new(move || command_clock.now());
    commands.entropy = allweather_demo::entropy(options.seed);
    // One issuer sends the whole year as fast as the log takes it.
    commands.rate_limit = None;
    let service = CommandService::new(log.clone(), commands)?;
    let key = config.token_key()?;

    let bar = ProgressBar::new(plan.steps.len() as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} commands ({per_sec}, {eta} left)")
            .context("progress bar template")?,
    );
    let outcome = allweather_demo::run(&service, &key, &plan, &clock, |done| {
        bar.set_position(done as u64);
        if done % 500 == 0 {
            bar.set_message(clock.now().format("%Y-%m-%d").to_string());
        }
    })
    .await?;
    bar.finish_and_clear();
    let head = log.head().await?;
    log.shutdown().await;

    let c = &plan.census;
    let kinds: Vec<String> = c
        .branches
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    println!(
        "demo county {} (seed {}): {} branches ({}), {} members, {} wishes, {} households, {} service entries",
        options.year,
        options.seed,
        c.branches.values().sum::<usize>(),
        kinds.join(", "),
        c.members,
        c.wishes,
        c.households,
        c.service_entries
    );
    let refused: usize = outcome.refused.values().map(|(n, _)| n).sum();
    println!(
        "{} commands accepted, {refused} refused, in {:.1} s",
        outcome.accepted,
        started.elapsed().as_secs_f64()
    );
    for (what, (n, detail)) in &outcome.refused {
        println!("  refused {n} × {what} (first: {detail})");
    }
    println!("log: {} events, head hash {}", head.position, head.hash);
    Ok(ExitCode::SUCCESS)
}

/// The year the demo simulates by default: last year, the latest complete one.
pub(crate) fn last_year() -> i32 {
    chrono::Utc::now().year() - 1
}
