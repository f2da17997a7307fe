//! `allweather reassess --year Y --rules FILE [--csv OUT]`: the annual reassessment.
//! Replays the whole log into a scratch scorecard (nothing is written to the log or the
//! read models), judges the year under the rules in force and under FILE, and reports
//! every member whose criteria would change — with each recorded opinion or appraisal
//! the new evidence contradicts, or no longer contradicts — and every branch whose rank
//! would change, with the criteria that change. It never gives a member a rating.
//!
//! `--csv` writes one row per changed criterion and per judgement contradicted or
//! reconciled; under the rules in force it reports no change. With `--nats URL` it
//! replays the JetStream mirror through an ordered consumer that leaves nothing on the
//! server, for an analyst's machine that reaches NATS but not the database.

use crate::admin::read_rules;
use allweather_log::Log;
use allweather_projections::assessment::{Comparison, compare};
use allweather_projections::scorecard::{self, AsOf};
use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Where the reassessment replays the year from.
pub(crate) enum Replay {
    /// The log.
    Log(Log),
    /// The JetStream mirror (`stream`), through an ordered consumer.
    Mirror(async_nats::Client, String),
}

/// Runs the reassessment of `year` under the rules in `file`.
pub(crate) async fn reassess(
    from: Replay,
    year: i32,
    file: &Path,
    csv: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let Some((proposed, _)) = read_rules(file)? else {
        return Ok(ExitCode::from(1));
    };
    if proposed.year != year {
        bail!(
            "{} holds the rules for {}, not {year}",
            file.display(),
            proposed.year
        );
    }
    let started = Instant::now();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("replaying the log {bar:40} {pos}/{len} events ({per_sec})")
            .context("progress bar template")?,
    );
    let (store, replayed) = match from {
        Replay::Log(log) => {
            bar.set_length(log.head().await?.position);
            let replayed = scorecard::scratch(&log, AsOf::Head, |p| bar.set_position(p))
                .await
                .context("replay the log into a scratch scorecard")?;
            log.shutdown().await;
            replayed
        }
        Replay::Mirror(client, stream) => scorecard::scratch_from_mirror(client, &stream, |p| {
            bar.set_length(bar.length().unwrap_or(0).max(p));
            bar.set_position(p);
        })
        .await
        .context("replay the JetStream mirror into a scratch scorecard")?,
    };
    bar.finish_and_clear();
    let Some(in_force) = scorecard::rules(store.pool(), year).await? else {
        bail!("no rules were adopted for {year}: there is nothing to reassess against");
    };
    let book = scorecard::book(store.pool(), year, None).await?;
    let comparison = compare(&book, &in_force, &proposed);
    let mut out = std::io::stdout().lock();
    report(&mut out, year, file, replayed, started, &comparison)?;
    if let Some(path) = csv {
        write_csv(path, &comparison).with_context(|| format!("write {}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report(
    out: &mut impl std::io::Write,
    year: i32,
    file: &Path,
    replayed: u64,
    started: Instant,
    c: &Comparison,
) -> std::io::Result<()> {
    writeln!(
        out,
        "reassessed {year} under {}: {} members and {} branches judged from {replayed} events in {:.1} s",
        file.display(),
        c.members,
        c.branches,
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "members whose criteria or contradicted judgements changed: {}",
        c.members_changed
    )?;
    writeln!(out, "branches whose rank changed: {}", c.branches_changed)?;
    for change in &c.changes {
        writeln!(
            out,
            "\n{} {} ({}): {} -> {}",
            change.kind, change.name, change.id, change.before, change.after
        )?;
        for (criterion, old, new) in &change.criteria {
            writeln!(out, "    {criterion}: {old} -> {new}")?;
        }
        for statement in &change.contradicted {
            writeln!(out, "    now contradicted: {statement}")?;
        }
        for statement in &change.reconciled {
            writeln!(out, "    no longer contradicted: {statement}")?;
        }
    }
    Ok(())
}

/// One row per changed criterion of each change, and one per judgement it newly
/// contradicts (criterion `contradicts`, the sentence as the new value) or no longer
/// contradicts (`no_longer_contradicts`, the sentence as the old value); one row with
/// empty criterion columns for a change none of these explains.
fn write_csv(path: &Path, c: &Comparison) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "kind",
        "id",
        "name",
        "before",
        "after",
        "criterion",
        "old_value",
        "new_value",
    ])?;
    for change in &c.changes {
        let head = [
            change.kind,
            &change.id,
            &change.name,
            &change.before,
            &change.after,
        ];
        let rows = change
            .criteria
            .iter()
            .map(|(criterion, old, new)| (*criterion, old.as_str(), new.as_str()))
            .chain(
                change
                    .contradicted
                    .iter()
                    .map(|s| ("contradicts", "", s.as_str())),
            )
            .chain(
                change
                    .reconciled
                    .iter()
                    .map(|s| ("no_longer_contradicts", s.as_str(), "")),
            )
            .collect::<Vec<_>>();
        if rows.is_empty() {
            w.write_record(head.iter().copied().chain(["", "", ""]))?;
        }
        for (criterion, old, new) in rows {
            w.write_record(head.iter().copied().chain([criterion, old, new]))?;
        }
    }
    w.flush()?;
    Ok(())
}
