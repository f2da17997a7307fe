//! `allweather import roster`: a county's branches and members from the spreadsheet it
//! already keeps — one `.xlsx` with sheets `branches` and `members` (or `支部` and `党员`),
//! or `branches.csv` and `members.csv` — with English or Chinese column names.
//!
//! Every row is read and checked first; each problem is printed as
//! `FILE:ROW: COLUMN: message` (ROW as the spreadsheet numbers it, the header being row
//! 1), and with any problem nothing is sent. `--dry-run` stops there. The real run sends
//! the commands a row stands for (a branch: `RegisterBranch`; a member: `RegisterMember`,
//! then `AssignServiceBranch` and `AppointSecretary` where the row says so), as a committee
//! admin, each with its id and idempotency key derived from what the row says (a branch
//! from its name, a member from name, unit branch and joining date): a second run of the
//! same roster, or of the roster with rows added or moved, appends nothing for rows
//! already imported. A branch or member registered before, by hand, under the same name
//! (and unit branch and joining date) is taken as the row's, not registered again.

use crate::config::{Config, Store};
use allweather_command::CommandService;
use allweather_command::roster::{self, Registered, Roster};
use allweather_domain::Principal;
use allweather_events::Role;
use allweather_log::Log;
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Reads, checks and (unless `dry_run`) imports the roster in `files`.
pub(crate) async fn roster(
    config: &Config,
    store: &Store,
    files: &[PathBuf],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let mut read = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("open {}", file.display()))?;
        read.push((file.display().to_string(), bytes));
    }
    let roster = Roster::read(&read)?;
    // A dry run for a county with no log yet checks the roster against nothing; it
    // never makes a log.
    let log = match config.log(store, !dry_run) {
        Ok(options) => Some(Log::open(options).await?),
        Err(_) if dry_run => None,
        Err(e) => return Err(e),
    };
    let service = match &log {
        Some(log) => Some(CommandService::new(log.clone(), config.commands())?),
        None => None,
    };
    let known = match &service {
        Some(service) => roster::registered(service).await?,
        None => Registered::default(),
    };
    let today = chrono::Utc::now()
        .with_timezone(&config.county_offset())
        .date_naive();
    let shut = async |log: Option<Log>| {
        if let Some(log) = log {
            log.shutdown().await;
        }
    };
    let plan = match roster::plan(&roster, &known, today) {
        Ok(plan) => plan,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s); nothing was imported", problems.len());
            shut(log).await;
            return Ok(ExitCode::from(1));
        }
    };
    if dry_run {
        println!(
            "the roster reads well: {} branch row(s), {} member row(s); {} branch(es) and {} member(s) would be registered",
            roster.branch_rows(),
            roster.member_rows(),
            plan.new_branches(),
            plan.new_members()
        );
        shut(log).await;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(service) = service else {
        anyhow::bail!("the log could not be opened");
    };
    let admin = Principal {
        subject: "allweather-import".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    };
    let imported = roster::import(&service, &admin, &plan).await;
    shut(log).await;
    let imported = imported.map_err(anyhow::Error::new)?;
    for refusal in &imported.refused {
        eprintln!("{refusal}");
    }
    println!(
        "imported {} branch row(s) and {} member row(s): {} event(s) appended, {} command(s) refused",
        roster.branch_rows(),
        roster.member_rows(),
        imported.appended,
        imported.refused.len()
    );
    Ok(if imported.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
