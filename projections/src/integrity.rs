//! Integrity flags: the patterns people complain of in systems like this — more than
//! 8 hours logged for a member-day, overlapping entries, look-alike entries of one
//! activity (many members self-reporting the same activity on the same day, or one
//! person entering it for many who is not its organising branch), and hours verified by
//! the person who entered them — each flag with the positions of the events behind it,
//! so an auditor can read them in the log. A mass event its organising branch enters for
//! everyone who came is what the programme asks for, and is not flagged.
//!
//! And the pattern of harvesting people's details: a member who claims wishes, is shown
//! their beneficiaries and gives the claims back, [`HARVEST_RELEASES`] times or more in a
//! day (`read_then_released`).
//!
//! The projector keeps every service entry: member, date, minutes, start time, normalised
//! activity, status, who entered and who verified it, and the positions of the events that
//! logged and decided it. "Many" is [`BULK_MEMBERS`] or more; a long day is over
//! [`LONG_DAY_MINUTES`]. The flags of a year are served to committee admins and auditors at
//! `GET /api/v1/integrity/flags?year=Y`.

use crate::records::{self, RecordChange, RecordStatus};
use crate::runner::Projector;
use crate::store::{dump_rows, position};
use crate::writes::{Change, Table, Value, Writes};
use allweather_domain::Event;
use allweather_domain::service::normalise;
use allweather_domain::values::stored_name;
use allweather_events::Envelope;
use futures::future::BoxFuture;
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

/// The projector's name.
pub const NAME: &str = "integrity";

/// Minutes in a member-day above which the day is flagged (8 hours).
pub const LONG_DAY_MINUTES: i64 = 8 * 60;

/// Members with one activity on one date entered by one person, from which it is flagged.
pub const BULK_MEMBERS: usize = 5;

/// Claims a member gives back in a day after being shown their beneficiary, from which
/// the day is flagged.
pub const HARVEST_RELEASES: usize = 2;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ig_entries (
        record_id       TEXT PRIMARY KEY,
        member_id       TEXT NOT NULL,
        date            TEXT NOT NULL,
        minutes         BIGINT NOT NULL,
        start_minute    BIGINT NOT NULL,
        activity        TEXT NOT NULL,
        status          TEXT NOT NULL,
        entered_by      TEXT NOT NULL,
        verifier        TEXT NOT NULL,
        logged_position BIGINT NOT NULL,
        decided_position BIGINT NOT NULL,
        channel         TEXT NOT NULL,
        organising_branch TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS ig_disclosures (
        position  BIGINT PRIMARY KEY,
        member_id TEXT NOT NULL,
        wish_id   TEXT NOT NULL,
        date      TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS ig_releases (
        position  BIGINT PRIMARY KEY,
        member_id TEXT NOT NULL,
        wish_id   TEXT NOT NULL,
        date      TEXT NOT NULL
    )",
];

static ENTRIES: Table = Table {
    name: "ig_entries",
    columns: &[
        "record_id",
        "member_id",
        "date",
        "minutes",
        "start_minute",
        "activity",
        "status",
        "entered_by",
        "verifier",
        "logged_position",
        "decided_position",
        "channel",
        "organising_branch",
    ],
};

/// Members shown a beneficiary's details, one row per showing.
static DISCLOSURES: Table = Table {
    name: "ig_disclosures",
    columns: &["position", "member_id", "wish_id", "date"],
};

/// Claims given back, one row per release.
static RELEASES: Table = Table {
    name: "ig_releases",
    columns: &["position", "member_id", "wish_id", "date"],
};

/// The integrity projector.
#[derive(Debug, Clone, Copy, Default)]
pub struct Integrity;

impl Projector for Integrity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }

    fn apply<'c>(
        &'c self,
        w: &'c mut Writes,
        envelope: &'c Envelope,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let id = envelope.stream_id.id();
            match event {
                Event::BeneficiaryDisclosed(e) => {
                    if let Some(member) = e.member_id {
                        w.insert(
                            &DISCLOSURES,
                            vec![
                                position(envelope).into(),
                                member.to_string().into(),
                                e.wish_id.to_string().into(),
                                e.disclosed_on.to_string().into(),
                            ],
                        )?;
                    }
                    return Ok(());
                }
                // On the member's ledger, `claims-{member}`.
                Event::ClaimReleased(e) => {
                    w.insert(
                        &RELEASES,
                        vec![
                            position(envelope).into(),
                            id.into(),
                            e.wish_id.to_string().into(),
                            e.released_on.to_string().into(),
                        ],
                    )?;
                    return Ok(());
                }
                _ => {}
            }
            match records::change(event) {
                Some(RecordChange::Logged(e)) => {
                    let start = e.start_time.map_or(-1, |t| {
                        i64::from(chrono::Timelike::hour(&t)) * 60
                            + i64::from(chrono::Timelike::minute(&t))
                    });
                    // Who entered: the member id when a member did, else the token's subject.
                    let entered_by = e
                        .entered_by_member_id
                        .map_or_else(|| envelope.actor.id.clone(), |m| m.to_string());
                    w.insert(
                        &ENTRIES,
                        vec![
                            id.into(),
                            e.member_id.to_string().into(),
                            e.date.to_string().into(),
                            i64::from(e.minutes).into(),
                            start.into(),
                            normalise(&e.activity).into(),
                            RecordStatus::Pending.as_str().into(),
                            entered_by.into(),
                            "".into(),
                            position(envelope).into(),
                            Value::Int(0),
                            stored_name(&e.channel).into(),
                            e.organising_branch_id
                                .map(|b| b.to_string())
                                .unwrap_or_default()
                                .into(),
                        ],
                    )?;
                }
                Some(RecordChange::Decided {
                    status,
                    by,
                    by_member,
                }) => {
                    let mut changes = vec![
                        ("status", Change::Set(status.as_str().into())),
                        ("decided_position", Change::Set(position(envelope).into())),
                    ];
                    if status == RecordStatus::Verified {
                        let verifier = by_member.map_or_else(|| by.to_owned(), |m| m.to_string());
                        changes.push(("verifier", Change::Set(verifier.into())));
                    }
                    w.update(&ENTRIES, id, changes)?;
                }
                Some(RecordChange::Corrected(after)) => w.update(
                    &ENTRIES,
                    id,
                    vec![
                        ("date", Change::Set(after.date.to_string().into())),
                        ("minutes", Change::Set(i64::from(after.minutes).into())),
                    ],
                )?,
                None => {}
            }
            Ok(())
        })
    }

    fn dump<'c>(&'c self, pool: &'c AnyPool) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
        Box::pin(async move {
            let mut rows = dump_rows(
                pool,
                "ig_entries",
                "SELECT record_id, member_id, date, CAST(minutes AS TEXT), CAST(start_minute AS TEXT), activity,
                        status, entered_by, verifier, CAST(logged_position AS TEXT), CAST(decided_position AS TEXT),
                        channel, organising_branch
                   FROM ig_entries ORDER BY record_id",
            )
            .await?;
            for (table, sql) in [
                (
                    "ig_disclosures",
                    "SELECT CAST(position AS TEXT), member_id, wish_id, date FROM ig_disclosures ORDER BY position",
                ),
                (
                    "ig_releases",
                    "SELECT CAST(position AS TEXT), member_id, wish_id, date FROM ig_releases ORDER BY position",
                ),
            ] {
                rows.extend(dump_rows(pool, table, sql).await?);
            }
            Ok(rows)
        })
    }
}

/// One suspicious pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// `over_8_hours_a_day`, `overlapping_entries`, `bulk_same_activity`,
    /// `verified_own_entry` or `read_then_released`.
    pub kind: &'static str,
    /// The member concerned; for look-alike entries, the one who entered them for
    /// others, or the activity many self-reported.
    pub subject: String,
    /// The date.
    pub date: String,
    /// What was seen.
    pub detail: String,
    /// Positions of the events behind it.
    pub evidence: Vec<i64>,
}

struct EntryRow {
    member: String,
    date: String,
    minutes: i64,
    start: i64,
    activity: String,
    status: RecordStatus,
    entered_by: String,
    verifier: String,
    logged: i64,
    decided: i64,
    /// Entered by its organising branch as organiser (a mass event's own record).
    organised: bool,
}

/// Every flag of `year`, in a stable order.
pub async fn flags(pool: &AnyPool, year: i32) -> Result<Vec<Flag>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT member_id, date, minutes, start_minute, activity, status, entered_by, verifier, logged_position, decided_position,
                channel, organising_branch
           FROM ig_entries WHERE date LIKE $1 AND status <> $2 ORDER BY logged_position",
    )
    .bind(format!("{year:04}-%"))
    .bind(RecordStatus::Rejected.as_str())
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(EntryRow {
                member: r.try_get(0)?,
                date: r.try_get(1)?,
                minutes: r.try_get(2)?,
                start: r.try_get(3)?,
                activity: r.try_get(4)?,
                status: RecordStatus::parse(&r.try_get::<String, _>(5)?)?,
                entered_by: r.try_get(6)?,
                verifier: r.try_get(7)?,
                logged: r.try_get(8)?,
                decided: r.try_get(9)?,
                organised: r.try_get::<String, _>(10)? == "organiser"
                    && !r.try_get::<String, _>(11)?.is_empty(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut flags = Vec::new();
    let mut days: BTreeMap<(&str, &str), Vec<&EntryRow>> = BTreeMap::new();
    // Entered by one person for others, not as the activity's organising branch.
    let mut bulk: BTreeMap<(&str, &str, &str), Vec<&EntryRow>> = BTreeMap::new();
    // Self-reported by many members, one activity on one day.
    let mut alike: BTreeMap<(&str, &str), Vec<&EntryRow>> = BTreeMap::new();
    for r in &rows {
        days.entry((&r.member, &r.date)).or_default().push(r);
        if r.entered_by == r.member {
            alike.entry((&r.date, &r.activity)).or_default().push(r);
        } else if !r.organised {
            bulk.entry((&r.entered_by, &r.date, &r.activity))
                .or_default()
                .push(r);
        }
        if r.status == RecordStatus::Verified
            && !r.verifier.is_empty()
            && r.verifier == r.entered_by
            && r.entered_by != r.member
        {
            flags.push(Flag {
                kind: "verified_own_entry",
                subject: r.member.clone(),
                date: r.date.clone(),
                detail: format!("{} verified hours they entered themselves", r.verifier),
                evidence: vec![r.logged, r.decided],
            });
        }
    }
    for ((member, date), entries) in &days {
        let total: i64 = entries.iter().map(|r| r.minutes).sum();
        if total > LONG_DAY_MINUTES {
            flags.push(Flag {
                kind: "over_8_hours_a_day",
                subject: (*member).to_owned(),
                date: (*date).to_owned(),
                detail: format!("{} h {} min logged for one day", total / 60, total % 60),
                evidence: entries.iter().map(|r| r.logged).collect(),
            });
        }
        let timed: Vec<&&EntryRow> = entries.iter().filter(|r| r.start >= 0).collect();
        for (i, a) in timed.iter().enumerate() {
            for b in &timed[i + 1..] {
                if a.start < b.start + b.minutes && b.start < a.start + a.minutes {
                    flags.push(Flag {
                        kind: "overlapping_entries",
                        subject: (*member).to_owned(),
                        date: (*date).to_owned(),
                        detail: format!("{} and {} overlap in time", a.activity, b.activity),
                        evidence: vec![a.logged, b.logged],
                    });
                }
            }
        }
    }
    let members = |entries: &[&EntryRow]| {
        let mut members: Vec<&str> = entries.iter().map(|r| r.member.as_str()).collect();
        members.sort_unstable();
        members.dedup();
        members.len()
    };
    for ((entered_by, date, activity), entries) in &bulk {
        let n = members(entries);
        if n >= BULK_MEMBERS {
            flags.push(Flag {
                kind: "bulk_same_activity",
                subject: (*entered_by).to_owned(),
                date: (*date).to_owned(),
                detail: format!(
                    "{n} members entered for {activity:?} by one person, not its organising branch"
                ),
                evidence: entries.iter().map(|r| r.logged).collect(),
            });
        }
    }
    for ((date, activity), entries) in &alike {
        let n = members(entries);
        if n >= BULK_MEMBERS {
            flags.push(Flag {
                kind: "bulk_same_activity",
                subject: (*activity).to_owned(),
                date: (*date).to_owned(),
                detail: format!("{n} members self-reported {activity:?} on the same day"),
                evidence: entries.iter().map(|r| r.logged).collect(),
            });
        }
    }
    flags.extend(harvesting(pool, year).await?);
    flags.sort_by(|a, b| {
        (a.kind, &a.date, &a.subject, &a.evidence).cmp(&(b.kind, &b.date, &b.subject, &b.evidence))
    });
    Ok(flags)
}

/// The days of `year` on which a member gave back [`HARVEST_RELEASES`] or more claims
/// after being shown their beneficiary: each release with the showing before it.
async fn harvesting(pool: &AnyPool, year: i32) -> Result<Vec<Flag>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.member_id, r.date, r.position, MIN(d.position)
           FROM ig_releases r
           JOIN ig_disclosures d
             ON d.member_id = r.member_id AND d.wish_id = r.wish_id AND d.position < r.position
          WHERE r.date LIKE $1
          GROUP BY r.member_id, r.date, r.position
          ORDER BY r.position",
    )
    .bind(format!("{year:04}-%"))
    .fetch_all(pool)
    .await?;
    let mut days: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in &rows {
        let evidence = days.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
        evidence.push(r.try_get(3)?);
        evidence.push(r.try_get(2)?);
    }
    Ok(days
        .into_iter()
        .filter(|(_, evidence)| evidence.len() / 2 >= HARVEST_RELEASES)
        .map(|((member, date), evidence)| Flag {
            kind: "read_then_released",
            detail: format!(
                "{} claims given back after their beneficiaries' details were shown",
                evidence.len() / 2
            ),
            subject: member,
            date,
            evidence,
        })
        .collect())
}
