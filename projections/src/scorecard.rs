//! The scorecard: the facts every year-end judgement stands on — members and their
//! branches, verified service records as they stand after corrections, anniversaries,
//! community feedback, the card's signed opinions and stars, appraisals, confirmed
//! wishes, household visits, branch meetings, activities and quiz results, and each
//! year's rules — each row with the log positions that show it. Assessments and rankings
//! are judged from these rows at query time by [`crate::assessment`], under the year's
//! rules in force or, for a reassessment, under others. A scratch scorecard replayed from
//! the log up to a position answers *as of* that position; as of a county day, it is
//! replayed up to the first event that occurred after the end of that day.
//!
//! Service records keep their status and the positions of their logging, verification and
//! corrections; a wish the member fulfilled counts when its publisher confirms it. A
//! member's earlier branches are kept as position ranges ([`crate::membership`]).

use crate::assessment::{AppraisalFacts, Book, BranchFacts, MemberFacts, Opinion, Record, Settled};
use crate::figures::{Concern, Entry, FigureFacts, Gathering, Person};
use crate::membership::{self, Periods, Side as Moved};
use crate::records::{self, RecordChange, RecordStatus};
use crate::runner::{ProjectionError, Projector, replay};
use crate::store::{ReadStore, dump_rows, position};
use crate::writes::{Change, Table, Writes};
use allweather_domain::Event;
use allweather_domain::event::{BranchActivityRecorded, BranchMeetingRecorded};
use allweather_domain::rules::Rules;
use allweather_domain::values::{Capacity, Channel, Rating, Side, stored_name};
use allweather_events::{Envelope, Timestamp};
use allweather_log::Log;
use chrono::Datelike;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::json;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, HashMap};

/// The projector's name.
pub const NAME: &str = "scorecard";

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sc_members (
        member_id         TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        unit_branch_id    TEXT NOT NULL,
        service_branch_id TEXT NOT NULL,
        joined_on         TEXT NOT NULL,
        unit_since        BIGINT NOT NULL,
        service_since     BIGINT NOT NULL,
        left_on           TEXT NOT NULL
    )",
    // The branches a member belonged to before, from one log position to another: a
    // record counts for the branches its member belonged to when it was logged.
    "CREATE TABLE IF NOT EXISTS sc_memberships (
        membership_id TEXT PRIMARY KEY,
        member_id     TEXT NOT NULL,
        branch_id     TEXT NOT NULL,
        from_position BIGINT NOT NULL,
        to_position   BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sc_branches (
        branch_id TEXT PRIMARY KEY,
        name      TEXT NOT NULL,
        kind      TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sc_records (
        record_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        year      BIGINT NOT NULL,
        category  TEXT NOT NULL,
        minutes   BIGINT NOT NULL,
        status    TEXT NOT NULL,
        evidence  TEXT NOT NULL,
        organiser TEXT NOT NULL,
        day       TEXT NOT NULL,
        campaign  TEXT NOT NULL,
        activity  TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sc_records_year ON sc_records (year, member_id)",
    "CREATE TABLE IF NOT EXISTS sc_marks (
        position   BIGINT NOT NULL,
        kind       TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        year       BIGINT NOT NULL,
        detail     TEXT NOT NULL,
        PRIMARY KEY (position, kind)
    )",
    "CREATE INDEX IF NOT EXISTS sc_marks_year ON sc_marks (year, subject_id)",
    // Marks by kind: a year's campaigns, cards issued.
    "CREATE INDEX IF NOT EXISTS sc_marks_kind ON sc_marks (kind, year)",
    "CREATE TABLE IF NOT EXISTS sc_wishes (
        wish_id TEXT PRIMARY KEY,
        year    BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sc_rules (
        year  BIGINT PRIMARY KEY,
        rules TEXT NOT NULL
    )",
];

/// The scorecard projector.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scorecard;

static MEMBERS: Table = Table {
    name: "sc_members",
    columns: &[
        "member_id",
        "name",
        "unit_branch_id",
        "service_branch_id",
        "joined_on",
        "unit_since",
        "service_since",
        "left_on",
    ],
};

static MEMBERSHIPS: Table = Table {
    name: "sc_memberships",
    columns: &[
        "membership_id",
        "member_id",
        "branch_id",
        "from_position",
        "to_position",
    ],
};

static BRANCHES: Table = Table {
    name: "sc_branches",
    columns: &["branch_id", "name", "kind"],
};

static RECORDS: Table = Table {
    name: "sc_records",
    columns: &[
        "record_id",
        "member_id",
        "year",
        "category",
        "minutes",
        "status",
        "evidence",
        "organiser",
        "day",
        "campaign",
        "activity",
    ],
};

static MARKS: Table = Table {
    name: "sc_marks",
    columns: &["position", "kind", "subject_id", "year", "detail"],
};

static WISHES: Table = Table {
    name: "sc_wishes",
    columns: &["wish_id", "year"],
};

/// Records a fact of `subject` in `year` shown by the event at `envelope`.
fn mark(
    w: &mut Writes,
    envelope: &Envelope,
    kind: &str,
    subject: &str,
    year: i32,
    detail: &str,
) -> Result<(), sqlx::Error> {
    w.insert(
        &MARKS,
        vec![
            position(envelope).into(),
            kind.into(),
            subject.into(),
            i64::from(year).into(),
            detail.into(),
        ],
    )
}

/// The member and year of a card's or an appraisal's stream id (`{member}-{year}`).
fn card_of(id: &str) -> Option<(&str, i32)> {
    let (member, year) = id.rsplit_once('-')?;
    Some((member, year.parse().ok()?))
}

impl Projector for Scorecard {
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
            let at = position(envelope).to_string();
            if let Some(change) = records::change(event) {
                return record(w, id, &at, change);
            }
            match event {
                Event::BranchRegistered(e) => w.insert(
                    &BRANCHES,
                    vec![
                        id.into(),
                        e.name.as_str().into(),
                        stored_name(&e.kind).into(),
                    ],
                )?,
                Event::MemberRegistered(e) => {
                    w.insert(
                        &MEMBERS,
                        vec![
                            id.into(),
                            e.name.as_str().into(),
                            e.unit_branch_id.to_string().into(),
                            "".into(),
                            e.joined_on.to_string().into(),
                            position(envelope).into(),
                            position(envelope).into(),
                            "".into(),
                        ],
                    )?;
                    // Leading cadres, who are paired with households: year 0.
                    if e.cadre {
                        mark(w, envelope, "cadre", id, 0, "")?;
                    }
                }
                Event::ServiceBranchAssigned(e) => {
                    let branch = e.service_branch_id.to_string();
                    let at = position(envelope);
                    membership::moved(w, &MEMBERS, &MEMBERSHIPS, id, Moved::Service, branch, at)
                        .await?;
                }
                Event::MemberTransferred(e) => {
                    let branch = e.unit_branch_id.to_string();
                    let at = position(envelope);
                    membership::moved(w, &MEMBERS, &MEMBERSHIPS, id, Moved::Unit, branch, at)
                        .await?;
                }
                Event::MemberDeparted(e) => w.update(
                    &MEMBERS,
                    id,
                    vec![("left_on", Change::Set(e.on.to_string().into()))],
                )?,
                Event::AnniversaryObserved(e) => mark(w, envelope, "anniversary", id, e.year, "")?,
                Event::CommunityFeedbackRecorded(e) => {
                    if let Some((member, year)) = card_of(id) {
                        mark(
                            w,
                            envelope,
                            "feedback",
                            member,
                            year,
                            &e.quarter.to_string(),
                        )?;
                    }
                }
                Event::DualCardSigned(e) => {
                    if let Some((member, year)) = card_of(id) {
                        let detail = json!({"side": e.side, "opinion": e.opinion,
                                            "remarks": e.remarks, "capacity": e.capacity});
                        mark(w, envelope, "side", member, year, &detail.to_string())?;
                    }
                }
                Event::DualCardIssued(e) => {
                    let detail = json!({"unit_branch_id": e.unit_branch_id,
                                        "service_branch_id": e.service_branch_id});
                    let member = e.member_id.to_string();
                    mark(w, envelope, "issued", &member, e.year, &detail.to_string())?;
                }
                Event::StarsAwarded(e) => {
                    if let Some((member, year)) = card_of(id) {
                        mark(w, envelope, "stars", member, year, &e.stars.to_string())?;
                    }
                }
                Event::AppraisalRecorded(e) => {
                    if let Some((member, year)) = card_of(id) {
                        let detail = json!({"rating": e.rating, "basis_position": e.basis_position,
                                            "remarks": e.remarks});
                        mark(w, envelope, "appraisal", member, year, &detail.to_string())?;
                    }
                }
                Event::AppraisalConfirmed(e) => {
                    if let Some((member, year)) = card_of(id) {
                        let detail = json!({"rating": e.rating});
                        mark(
                            w,
                            envelope,
                            "appraisal_confirmed",
                            member,
                            year,
                            &detail.to_string(),
                        )?;
                    }
                }
                Event::AppraisalOverturned(e) => {
                    if let Some((member, year)) = card_of(id) {
                        let detail = json!({"rating": e.rating, "reason": e.reason});
                        mark(
                            w,
                            envelope,
                            "appraisal_overturned",
                            member,
                            year,
                            &detail.to_string(),
                        )?;
                    }
                }
                // Meetings and activities: when, and who came (a mark each).
                Event::BranchMeetingRecorded(BranchMeetingRecorded {
                    date,
                    attendees,
                    headcount,
                    ..
                })
                | Event::BranchActivityRecorded(BranchActivityRecorded {
                    date,
                    attendees,
                    headcount,
                    ..
                }) => {
                    let kind = match event {
                        Event::BranchMeetingRecorded(_) => "meeting",
                        _ => "activity",
                    };
                    let detail =
                        json!({"date": date, "attendees": attendees, "headcount": headcount});
                    mark(w, envelope, kind, id, date.year(), &detail.to_string())?;
                }
                Event::CampaignLaunched(e) => {
                    mark(w, envelope, "campaign", id, e.starts_on.year(), &e.name)?;
                }
                // Concerns are counted whatever year they were raised in: year 0.
                Event::ConcernRaised(e) => {
                    let detail = json!({"concern_id": e.concern_id, "category": e.category});
                    mark(w, envelope, "concern", id, 0, &detail.to_string())?;
                }
                Event::ConcernResolved(e) => {
                    let detail = json!({"concern_id": e.concern_id});
                    mark(w, envelope, "concern_resolved", id, 0, &detail.to_string())?;
                }
                Event::QuizResultRecorded(e) => {
                    mark(w, envelope, "quiz", id, e.year, &e.score.to_string())?;
                }
                // Households, whatever year: year 0.
                Event::HouseholdRegistered(e) => {
                    mark(w, envelope, "household", id, 0, &e.address_area)?;
                }
                Event::HouseholdPaired(e) => {
                    mark(w, envelope, "paired", id, 0, &e.cadre_id.to_string())?;
                }
                Event::HouseholdVisited(e) => mark(
                    w,
                    envelope,
                    "visit",
                    &e.cadre_id.to_string(),
                    e.date.year(),
                    &json!({"household": id, "date": e.date}).to_string(),
                )?,
                Event::WishPublished(e) => w.insert(
                    &WISHES,
                    vec![id.into(), i64::from(e.published_on.year()).into()],
                )?,
                Event::WishConfirmed(e) => {
                    // A wish counts in the year it was published, for whoever fulfilled it.
                    if let Some(year) = w.int(&WISHES, id, "year").await? {
                        let year = i32::try_from(year).map_err(|_| {
                            sqlx::Error::Protocol(format!("wish {id} of year {year}"))
                        })?;
                        mark(w, envelope, "wish", &e.member_id.to_string(), year, id)?;
                    }
                }
                Event::RulesAdopted(e) => {
                    let rules = serde_json::to_string(&e.rules)
                        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
                    sqlx::query(
                        "INSERT INTO sc_rules (year, rules) VALUES ($1, $2)
                         ON CONFLICT (year) DO UPDATE SET rules = excluded.rules",
                    )
                    .bind(i64::from(e.rules.year))
                    .bind(rules)
                    .execute(w.conn().await?)
                    .await?;
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn dump<'c>(&'c self, pool: &'c AnyPool) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (table, sql) in [
                (
                    "sc_members",
                    "SELECT member_id, name, unit_branch_id, service_branch_id, joined_on, CAST(unit_since AS TEXT),
                            CAST(service_since AS TEXT), left_on FROM sc_members ORDER BY member_id",
                ),
                (
                    "sc_memberships",
                    "SELECT membership_id, member_id, branch_id, CAST(from_position AS TEXT), CAST(to_position AS TEXT)
                       FROM sc_memberships ORDER BY membership_id",
                ),
                (
                    "sc_branches",
                    "SELECT branch_id, name, kind FROM sc_branches ORDER BY branch_id",
                ),
                (
                    "sc_records",
                    "SELECT record_id, member_id, CAST(year AS TEXT), category, CAST(minutes AS TEXT), status, evidence,
                            organiser, day, campaign, activity FROM sc_records ORDER BY record_id",
                ),
                (
                    "sc_marks",
                    "SELECT CAST(position AS TEXT), kind, subject_id, CAST(year AS TEXT), detail FROM sc_marks ORDER BY position, kind",
                ),
                (
                    "sc_wishes",
                    "SELECT wish_id, CAST(year AS TEXT) FROM sc_wishes ORDER BY wish_id",
                ),
                (
                    "sc_rules",
                    "SELECT CAST(year AS TEXT), rules FROM sc_rules ORDER BY year",
                ),
            ] {
                out.extend(dump_rows(pool, table, sql).await?);
            }
            Ok(out)
        })
    }
}

/// A service record's row, as `change` leaves it; `at` is the event's position, added
/// to the record's evidence.
fn record(w: &mut Writes, id: &str, at: &str, change: RecordChange<'_>) -> Result<(), sqlx::Error> {
    match change {
        RecordChange::Logged(e) => w.insert(
            &RECORDS,
            vec![
                id.into(),
                e.member_id.to_string().into(),
                i64::from(e.date.year()).into(),
                stored_name(&e.category).into(),
                i64::from(e.minutes).into(),
                RecordStatus::Pending.as_str().into(),
                at.into(),
                // Hours its organiser entered for an activity count for the organising
                // branch too.
                match (e.channel, e.organising_branch_id) {
                    (Channel::Organiser, Some(b)) => b.to_string(),
                    _ => String::new(),
                }
                .into(),
                e.date.to_string().into(),
                e.campaign_id
                    .map(|c| c.to_string())
                    .unwrap_or_default()
                    .into(),
                e.activity.clone().into(),
            ],
        ),
        RecordChange::Decided { status, .. } => w.update(
            &RECORDS,
            id,
            vec![
                ("status", Change::Set(status.as_str().into())),
                ("evidence", Change::Append(at.to_owned())),
            ],
        ),
        RecordChange::Corrected(after) => w.update(
            &RECORDS,
            id,
            vec![
                ("year", Change::Set(i64::from(after.date.year()).into())),
                ("category", Change::Set(stored_name(&after.category).into())),
                ("minutes", Change::Set(i64::from(after.minutes).into())),
                ("evidence", Change::Append(at.to_owned())),
                ("day", Change::Set(after.date.to_string().into())),
            ],
        ),
    }
}

fn corrupt(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the scorecard holds {what}"))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, sqlx::Error> {
    text.parse()
        .map_err(|_| corrupt(format_args!("{what} {text:?}")))
}

fn named<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::from(text))
        .map_err(|_| corrupt(format_args!("{what} {text:?}")))
}

/// What an appraisal mark holds.
#[derive(serde::Deserialize)]
struct MarkedAppraisal {
    rating: Rating,
    basis_position: Option<u64>,
    remarks: Option<String>,
    reason: Option<String>,
}

fn json_detail<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| corrupt(format_args!("{what} {text:?}: {e}")))
}

/// A signed side as marked: JSON with its remarks and capacity, or, as scorecards built
/// before those were kept hold it, `side:opinion`.
fn opinion(detail: &str, position: u64) -> Result<Opinion, sqlx::Error> {
    #[derive(serde::Deserialize)]
    struct Marked {
        side: Side,
        opinion: Rating,
        remarks: String,
        capacity: Capacity,
    }
    if detail.starts_with('{') {
        let m: Marked = json_detail(detail, "a card side")?;
        return Ok(Opinion {
            side: m.side,
            opinion: m.opinion,
            remarks: Some(m.remarks),
            capacity: Some(m.capacity),
            position,
        });
    }
    let (side, rating) = detail
        .split_once(':')
        .ok_or_else(|| corrupt(format_args!("a card side {detail:?}")))?;
    Ok(Opinion {
        side: named(side, "side")?,
        opinion: named(rating, "rating")?,
        remarks: None,
        capacity: None,
        position,
    })
}

fn at(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The rules in force for `year`, if any were adopted.
pub async fn rules(pool: &AnyPool, year: i32) -> Result<Option<Rules>, sqlx::Error> {
    let row = sqlx::query("SELECT rules FROM sc_rules WHERE year = $1")
        .bind(i64::from(year))
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let text: String = r.try_get(0)?;
        serde_json::from_str(&text).map_err(|e| corrupt(format_args!("unreadable rules: {e}")))
    })
    .transpose()
}

/// A member as the scorecard holds them, with the branches they belonged to when.
struct MemberRow {
    facts: MemberFacts,
    periods: Periods,
    left_on: Option<chrono::NaiveDate>,
}

/// Every member (or one), with their branches over time.
async fn members(pool: &AnyPool, only: &str) -> Result<BTreeMap<String, MemberRow>, sqlx::Error> {
    let mut members = BTreeMap::new();
    for r in sqlx::query(
        "SELECT member_id, name, unit_branch_id, service_branch_id, joined_on, unit_since, service_since, left_on
           FROM sc_members WHERE $1 = '' OR member_id = $1",
    )
    .bind(only)
    .fetch_all(pool)
    .await?
    {
        let service: String = r.try_get(3)?;
        let mut facts = MemberFacts::new(
            r.try_get(1)?,
            r.try_get(2)?,
            parse(&r.try_get::<String, _>(4)?, "joining date")?,
        );
        facts.service_branch_id = (!service.is_empty()).then_some(service);
        let (unit_since, service_since): (i64, i64) = (r.try_get(5)?, r.try_get(6)?);
        let left_on: String = r.try_get(7)?;
        let periods = Periods::new(
            facts.unit_branch_id.clone(),
            at(unit_since),
            facts
                .service_branch_id
                .clone()
                .map(|b| (b, at(service_since))),
        );
        let left_on = (!left_on.is_empty())
            .then(|| parse(&left_on, "leaving date"))
            .transpose()?;
        members.insert(
            r.try_get(0)?,
            MemberRow {
                facts,
                periods,
                left_on,
            },
        );
    }
    for r in sqlx::query(
        "SELECT member_id, branch_id, from_position, to_position FROM sc_memberships
          WHERE $1 = '' OR member_id = $1",
    )
    .bind(only)
    .fetch_all(pool)
    .await?
    {
        let member: String = r.try_get(0)?;
        if let Some(m) = members.get_mut(&member) {
            m.periods
                .with_earlier(r.try_get(1)?, at(r.try_get(2)?), at(r.try_get(3)?));
        }
    }
    Ok(members)
}

/// A record waiting for its verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The record.
    pub record_id: String,
    /// Whose.
    pub member_id: String,
    /// Their name.
    pub name: String,
    /// The day served.
    pub day: String,
    /// How long.
    pub minutes: i64,
    /// The category's stored name.
    pub category: String,
    /// What was done.
    pub activity: String,
}

/// The records waiting for verification whose members are served by `branch_id` (the
/// service branch verifies its members' hours), oldest day first.
pub async fn waiting_for(pool: &AnyPool, branch_id: &str) -> Result<Vec<Waiting>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.record_id, r.member_id, m.name, r.day, r.minutes, r.category, r.activity
           FROM sc_records r JOIN sc_members m ON m.member_id = r.member_id
          WHERE r.status = $1 AND m.service_branch_id = $2
          ORDER BY r.day, r.record_id",
    )
    .bind(RecordStatus::Pending.as_str())
    .bind(branch_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Waiting {
                record_id: r.try_get(0)?,
                member_id: r.try_get(1)?,
                name: r.try_get(2)?,
                day: r.try_get(3)?,
                minutes: r.try_get(4)?,
                category: r.try_get(5)?,
                activity: r.try_get(6)?,
            })
        })
        .collect()
}

/// A branch's name, if it is registered.
pub async fn branch_name(pool: &AnyPool, branch_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM sc_branches WHERE branch_id = $1")
        .bind(branch_id)
        .fetch_optional(pool)
        .await
}

/// The unit and service branch of a member (empty where there is none).
pub async fn branches_of(pool: &AnyPool, member_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT unit_branch_id, service_branch_id FROM sc_members WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|(unit, service)| {
            [unit, service]
                .into_iter()
                .filter(|b| !b.is_empty())
                .collect()
        })
        .unwrap_or_default())
}

/// The members of a branch still in the programme, by name: id, name, and whether the
/// branch is their unit branch (else their service branch).
pub async fn roster(
    pool: &AnyPool,
    branch_id: &str,
) -> Result<Vec<(String, String, bool)>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT member_id, name, unit_branch_id FROM sc_members
          WHERE (unit_branch_id = $1 OR service_branch_id = $1) AND left_on = ''
          ORDER BY name, member_id",
    )
    .bind(branch_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, unit)| (id, name, unit == branch_id))
        .collect())
}

/// A member's service records of `year` by status: how many, and their minutes.
pub async fn hours_by_status(
    pool: &AnyPool,
    year: i32,
    member: &str,
) -> Result<Vec<(RecordStatus, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*), CAST(COALESCE(SUM(minutes), 0) AS BIGINT) FROM sc_records
          WHERE year = $1 AND member_id = $2 GROUP BY status ORDER BY status",
    )
    .bind(i64::from(year))
    .bind(member)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                RecordStatus::parse(&r.try_get::<String, _>(0)?)?,
                r.try_get(1)?,
                r.try_get(2)?,
            ))
        })
        .collect()
}

/// The facts of `year` — of every member and branch, or of one member only.
pub async fn book(pool: &AnyPool, year: i32, member: Option<&str>) -> Result<Book, sqlx::Error> {
    let only = member.unwrap_or("");
    let mut book = Book {
        year,
        ..Book::default()
    };
    for (id, mut row) in members(pool, only).await? {
        row.facts.periods = Some(row.periods);
        book.members.insert(id, row.facts);
    }
    if member.is_none() {
        for r in sqlx::query("SELECT branch_id, name, kind FROM sc_branches")
            .fetch_all(pool)
            .await?
        {
            book.branches.insert(
                r.try_get(0)?,
                BranchFacts::new(r.try_get(1)?, r.try_get(2)?),
            );
        }
    }
    for r in sqlx::query(
        "SELECT member_id, category, minutes, evidence, organiser FROM sc_records
          WHERE year = $1 AND status = $3 AND ($2 = '' OR member_id = $2)
          ORDER BY record_id",
    )
    .bind(i64::from(year))
    .bind(only)
    .bind(RecordStatus::Verified.as_str())
    .fetch_all(pool)
    .await?
    {
        let member_id: String = r.try_get(0)?;
        let evidence: String = r.try_get(3)?;
        let evidence: Vec<u64> = evidence
            .split_whitespace()
            .map(|p| parse(p, "position"))
            .collect::<Result<_, _>>()?;
        // Its first position is where it was logged.
        let logged = evidence.first().copied().unwrap_or(0);
        let organiser: String = r.try_get(4)?;
        let record = Record {
            category: named(&r.try_get::<String, _>(1)?, "category")?,
            minutes: u32::try_from(r.try_get::<i64, _>(2)?)
                .map_err(|_| corrupt("a record's minutes out of range"))?,
            branches: book
                .members
                .get(&member_id)
                .and_then(|m| m.periods.as_ref())
                .map(|p| p.at(logged))
                .unwrap_or_default(),
            organiser: (!organiser.is_empty()).then_some(organiser),
            evidence,
        };
        if let Some(m) = book.members.get_mut(&member_id) {
            m.records.push(record);
        }
    }
    for r in sqlx::query(
        "SELECT position, kind, subject_id, detail FROM sc_marks
          WHERE year = $1 AND ($2 = '' OR subject_id = $2) ORDER BY position",
    )
    .bind(i64::from(year))
    .bind(only)
    .fetch_all(pool)
    .await?
    {
        let position = at(r.try_get(0)?);
        let kind: String = r.try_get(1)?;
        let subject: String = r.try_get(2)?;
        let detail: String = r.try_get(3)?;
        if let Some(m) = book.members.get_mut(&subject) {
            match kind.as_str() {
                "anniversary" => m.anniversary = Some(position),
                "feedback" => m.feedback.push((parse(&detail, "quarter")?, position)),
                "side" => m.sides.push(opinion(&detail, position)?),
                "stars" => m.stars = Some((parse(&detail, "stars")?, position)),
                "appraisal" => {
                    let d: MarkedAppraisal = json_detail(&detail, "an appraisal")?;
                    let mut positions = m.appraisal.take().map(|a| a.positions).unwrap_or_default();
                    positions.push(position);
                    m.appraisal = Some(AppraisalFacts {
                        rating: d.rating,
                        settled: Settled::Recorded,
                        basis_position: d.basis_position.unwrap_or(0),
                        remarks: d.remarks.unwrap_or_default(),
                        reason: None,
                        positions,
                    });
                }
                "appraisal_confirmed" | "appraisal_overturned" => {
                    let d: MarkedAppraisal = json_detail(&detail, "an appraisal")?;
                    let Some(a) = m.appraisal.as_mut() else {
                        return Err(corrupt(format_args!(
                            "a committee decision at {position} on no recorded appraisal"
                        )));
                    };
                    a.rating = d.rating;
                    a.positions.push(position);
                    if kind == "appraisal_confirmed" {
                        a.settled = Settled::Confirmed;
                    } else {
                        a.settled = Settled::Overturned;
                        a.reason = d.reason;
                    }
                }
                "wish" => m.wishes.push(position),
                "visit" => m.visits.push(position),
                "issued" => m.card = Some(position),
                _ => {}
            }
        } else if let Some(b) = book.branches.get_mut(&subject) {
            match kind.as_str() {
                "meeting" => b.meetings.push(position),
                "activity" => b.activities.push(position),
                "quiz" => b.quiz = Some((parse(&detail, "quiz score")?, position)),
                _ => {}
            }
        }
    }
    Ok(book)
}

/// A household as the service centre follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdLine {
    /// The household.
    pub household_id: String,
    /// Its area (never an address).
    pub area: String,
    /// The cadre paired with it, if one is.
    pub cadre_id: Option<String>,
    /// Visits recorded.
    pub visits: usize,
    /// The last visit's date.
    pub last_visit: Option<String>,
    /// Its concerns not yet resolved: id and category.
    pub open_concerns: Vec<(String, String)>,
}

/// Every household, in the order registered, with its pairing, visits and open concerns.
pub async fn households(pool: &AnyPool) -> Result<Vec<HouseholdLine>, sqlx::Error> {
    #[derive(serde::Deserialize)]
    struct Visited {
        household: String,
        date: String,
    }
    #[derive(serde::Deserialize)]
    struct Raised {
        concern_id: String,
        category: Option<String>,
    }
    let rows = sqlx::query(
        "SELECT kind, subject_id, detail FROM sc_marks
          WHERE kind IN ('household', 'paired', 'visit', 'concern', 'concern_resolved')
          ORDER BY position",
    )
    .fetch_all(pool)
    .await?;
    let mut found: Vec<HouseholdLine> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in rows {
        let (kind, subject, detail): (String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        if kind == "household" {
            index.insert(subject.clone(), found.len());
            found.push(HouseholdLine {
                household_id: subject,
                area: detail,
                cadre_id: None,
                visits: 0,
                last_visit: None,
                open_concerns: Vec::new(),
            });
            continue;
        }
        let (household, visit) = if kind == "visit" {
            let v: Visited = json_detail(&detail, "a visit")?;
            (v.household, Some(v.date))
        } else {
            (subject, None)
        };
        let Some(h) = index.get(&household).and_then(|i| found.get_mut(*i)) else {
            continue;
        };
        match kind.as_str() {
            "paired" => h.cadre_id = Some(detail),
            "visit" => {
                h.visits += 1;
                h.last_visit = h.last_visit.take().max(visit);
            }
            "concern" => {
                let c: Raised = json_detail(&detail, "a concern")?;
                h.open_concerns
                    .push((c.concern_id, c.category.unwrap_or_default()));
            }
            _ => {
                let c: Raised = json_detail(&detail, "a concern")?;
                h.open_concerns.retain(|(id, _)| *id != c.concern_id);
            }
        }
    }
    Ok(found)
}

/// The members registered as leading cadres (who are paired with households), by name:
/// id and name.
pub async fn cadres(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.member_id, m.name FROM sc_marks k JOIN sc_members m ON m.member_id = k.subject_id
          WHERE k.kind = 'cadre' AND m.left_on = '' ORDER BY m.name, m.member_id",
    )
    .fetch_all(pool)
    .await
}

/// Every member's name, by id.
pub async fn member_names(pool: &AnyPool) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT member_id, name FROM sc_members")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The campaigns launched in `year`: id and name, in the order launched.
pub async fn campaigns(pool: &AnyPool, year: i32) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT subject_id, detail FROM sc_marks WHERE kind = 'campaign' AND year = $1
          ORDER BY position",
    )
    .bind(i64::from(year))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// What the figures of `year` are counted from ([`crate::figures`]).
pub async fn figure_facts(pool: &AnyPool, year: i32) -> Result<FigureFacts, sqlx::Error> {
    let mut facts = FigureFacts::default();
    for (id, row) in members(pool, "").await? {
        facts.members.insert(
            id,
            Person {
                unit_branch_id: row.facts.unit_branch_id,
                service_branch_id: row.facts.service_branch_id,
                left_on: row.left_on,
                periods: row.periods,
                joined_on: row.facts.joined_on,
            },
        );
    }
    for r in sqlx::query("SELECT branch_id, name, kind FROM sc_branches")
        .fetch_all(pool)
        .await?
    {
        facts
            .branches
            .insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
    }
    for r in sqlx::query(
        "SELECT member_id, day, campaign, organiser, evidence FROM sc_records
          WHERE year = $1 AND status = $2 ORDER BY record_id",
    )
    .bind(i64::from(year))
    .bind(RecordStatus::Verified.as_str())
    .fetch_all(pool)
    .await?
    {
        let evidence: String = r.try_get(4)?;
        let logged = evidence
            .split_whitespace()
            .next()
            .map(|p| parse(p, "position"))
            .transpose()?
            .unwrap_or(0);
        let (campaign, organiser): (String, String) = (r.try_get(2)?, r.try_get(3)?);
        facts.entries.push(Entry {
            member_id: r.try_get(0)?,
            date: parse(&r.try_get::<String, _>(1)?, "service date")?,
            campaign: (!campaign.is_empty()).then_some(campaign),
            organiser: (!organiser.is_empty()).then_some(organiser),
            logged,
        });
    }
    #[derive(serde::Deserialize)]
    struct Held {
        date: chrono::NaiveDate,
        attendees: Vec<String>,
        headcount: u64,
    }
    #[derive(serde::Deserialize)]
    struct Visited {
        household: String,
        date: chrono::NaiveDate,
    }
    #[derive(serde::Deserialize)]
    struct Raised {
        concern_id: String,
        category: Option<String>,
    }
    let mut concerns: BTreeMap<String, crate::figures::Concern> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT position, kind, subject_id, detail FROM sc_marks
          WHERE year = $1 OR year = 0 OR kind = 'campaign' ORDER BY position",
    )
    .bind(i64::from(year))
    .fetch_all(pool)
    .await?
    {
        let position = at(r.try_get(0)?);
        let kind: String = r.try_get(1)?;
        let subject: String = r.try_get(2)?;
        let detail: String = r.try_get(3)?;
        match kind.as_str() {
            "meeting" | "activity" => {
                let held: Held = json_detail(&detail, "a meeting or activity")?;
                facts.gatherings.push(Gathering {
                    branch_id: subject,
                    activity: kind == "activity",
                    date: held.date,
                    attendees: held.attendees,
                    headcount: held.headcount,
                    position,
                });
            }
            "anniversary" => facts.anniversaries.push((subject, position)),
            "visit" => {
                let v: Visited = json_detail(&detail, "a visit")?;
                facts.visits.push((v.household, v.date, position));
            }
            "campaign" => {
                facts.campaigns.insert(subject, detail);
            }
            "concern" => {
                let c: Raised = json_detail(&detail, "a concern")?;
                concerns.insert(
                    c.concern_id,
                    Concern {
                        category: c.category.unwrap_or_default(),
                        raised: position,
                        resolved: None,
                    },
                );
            }
            "concern_resolved" => {
                let c: Raised = json_detail(&detail, "a concern")?;
                if let Some(concern) = concerns.get_mut(&c.concern_id) {
                    concern.resolved = Some(position);
                }
            }
            _ => {}
        }
    }
    facts.concerns = concerns.into_values().collect();
    Ok(facts)
}

/// Up to where a scratch scorecard is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The whole log as it stands.
    Head,
    /// Up to and including this position.
    Position(u64),
    /// The events up to the first that occurred at or after this instant (the time of
    /// the command, which the county's calendar follows; commit order follows it to
    /// within the moments between deciding and committing).
    Before(Timestamp),
}

impl AsOf {
    fn takes(self, e: &Envelope) -> bool {
        match self {
            AsOf::Head => true,
            AsOf::Position(p) => e.position <= p,
            AsOf::Before(t) => e.occurred_at < t,
        }
    }
}

/// A scorecard of its own, in memory, replayed from the JetStream mirror (`stream`)
/// through an ordered consumer, up to the stream's last message. Answers it and the
/// position it reflects.
pub async fn scratch_from_mirror(
    client: async_nats::Client,
    stream: &str,
    on_batch: impl FnMut(u64),
) -> Result<(ReadStore, u64), ProjectionError> {
    let last = async_nats::jetstream::new(client.clone())
        .get_stream(stream)
        .await
        .map_err(|e| crate::SourceError::Nats(e.to_string()))?
        .info()
        .await
        .map_err(|e| crate::SourceError::Nats(e.to_string()))?
        .state
        .last_sequence;
    let store = ReadStore::scratch().await?;
    crate::runner::prepare(&store, &Scorecard).await?;
    let source = crate::OrderedJetStreamSource::new(client, stream, 0).await?;
    let reached = crate::runner::replay_source(
        &store,
        &Scorecard,
        source,
        last,
        std::time::Duration::from_secs(30),
        on_batch,
    )
    .await?;
    Ok((store, reached))
}

/// A scorecard of its own, in memory, replayed from `log` up to `as_of`, with
/// `on_batch` told each position reached: for queries as of a past position and for the
/// reassessment. Answers it and the position it reflects.
pub async fn scratch(
    log: &Log,
    as_of: AsOf,
    on_batch: impl FnMut(u64),
) -> Result<(ReadStore, u64), ProjectionError> {
    let store = ReadStore::scratch().await?;
    crate::runner::prepare(&store, &Scorecard).await?;
    let reached = replay(&store, &Scorecard, log, |e| as_of.takes(e), on_batch).await?;
    Ok((store, reached))
}
