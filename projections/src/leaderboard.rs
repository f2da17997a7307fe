//! Volunteer leaderboards: verified service hours and points by member, for a year,
//! quarter or month, a category and a branch. Only verified hours count; a correction
//! moves a record's hours; points are each record's minutes at its year's points per hour
//! for its category (hundredths, rounded down per record, as the domain counts them).
//! A branch's board counts the hours recorded while the member belonged to it: a member
//! who moved house or changed posts leaves their earlier hours with the earlier branch.
//! Ties are broken by member id. Who may see a year's board is that year's rules':
//! `public`, `members_only` (any valid token) or `off` (the committee and auditors only).
//! It is served at `GET /api/v1/leaderboards/volunteers?year=Y`, with `quarter` or `month`,
//! `category`, `branch_id`, `limit` and `min_position`.

use crate::membership::{self, Side};
use crate::records::{self, RecordChange, RecordStatus};
use crate::runner::Projector;
use crate::store::dump_rows;
use crate::writes::{Change, Table, Value, Writes};
use allweather_domain::Event;
use allweather_domain::rules::points_hundredths;
use allweather_domain::values::Visibility;
use allweather_domain::values::stored_name;
use allweather_events::Envelope;
use chrono::Datelike;
use futures::future::BoxFuture;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

/// The projector's name.
pub const NAME: &str = "leaderboard";

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS lb_members (
        member_id         TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        unit_branch_id    TEXT NOT NULL,
        service_branch_id TEXT,
        unit_since        BIGINT NOT NULL,
        service_since     BIGINT
    )",
    // The branches a member belonged to before, each from one log position to another:
    // a fact counts for the branch the member belonged to when it was recorded.
    "CREATE TABLE IF NOT EXISTS lb_memberships (
        membership_id TEXT PRIMARY KEY,
        member_id     TEXT NOT NULL,
        branch_id     TEXT NOT NULL,
        from_position BIGINT NOT NULL,
        to_position   BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lb_memberships_member ON lb_memberships (member_id, branch_id)",
    "CREATE TABLE IF NOT EXISTS lb_records (
        record_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        year      BIGINT NOT NULL,
        quarter   BIGINT NOT NULL,
        month     BIGINT NOT NULL,
        category  TEXT NOT NULL,
        minutes   BIGINT NOT NULL,
        status    TEXT NOT NULL,
        position  BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lb_records_year ON lb_records (year, status)",
    "CREATE TABLE IF NOT EXISTS lb_points (
        year       BIGINT NOT NULL,
        category   TEXT NOT NULL,
        hundredths BIGINT NOT NULL,
        PRIMARY KEY (year, category)
    )",
    "CREATE TABLE IF NOT EXISTS lb_visibility (
        year       BIGINT PRIMARY KEY,
        visibility TEXT NOT NULL
    )",
];

static MEMBERS: Table = Table {
    name: "lb_members",
    columns: &[
        "member_id",
        "name",
        "unit_branch_id",
        "service_branch_id",
        "unit_since",
        "service_since",
    ],
};

static MEMBERSHIPS: Table = Table {
    name: "lb_memberships",
    columns: &[
        "membership_id",
        "member_id",
        "branch_id",
        "from_position",
        "to_position",
    ],
};

static RECORDS: Table = Table {
    name: "lb_records",
    columns: &[
        "record_id",
        "member_id",
        "year",
        "quarter",
        "month",
        "category",
        "minutes",
        "status",
        "position",
    ],
};

/// The volunteer leaderboard projector.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leaderboard;

impl Projector for Leaderboard {
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
            let at = i64::try_from(envelope.position).unwrap_or(i64::MAX);
            if let Some(change) = records::change(event) {
                return record(w, id, at, change);
            }
            match event {
                Event::MemberRegistered(e) => w.insert(
                    &MEMBERS,
                    vec![
                        id.into(),
                        e.name.as_str().into(),
                        e.unit_branch_id.to_string().into(),
                        Value::Null,
                        at.into(),
                        Value::Null,
                    ],
                )?,
                Event::ServiceBranchAssigned(e) => {
                    let branch = e.service_branch_id.to_string();
                    membership::moved(w, &MEMBERS, &MEMBERSHIPS, id, Side::Service, branch, at)
                        .await?;
                }
                Event::MemberTransferred(e) => {
                    let branch = e.unit_branch_id.to_string();
                    membership::moved(w, &MEMBERS, &MEMBERSHIPS, id, Side::Unit, branch, at)
                        .await?;
                }
                Event::RulesAdopted(e) => {
                    let conn = w.conn().await?;
                    let year = i64::from(e.rules.year);
                    // The rules in force replace the earlier ones whole: a category they leave out
                    // earns nothing.
                    sqlx::query("DELETE FROM lb_points WHERE year = $1")
                        .bind(year)
                        .execute(&mut *conn)
                        .await?;
                    for (category, hundredths) in &e.rules.points_per_hour_hundredths {
                        sqlx::query(
                            "INSERT INTO lb_points (year, category, hundredths) VALUES ($1, $2, $3)
                             ON CONFLICT (year, category) DO UPDATE SET hundredths = excluded.hundredths",
                        )
                        .bind(year)
                        .bind(stored_name(category))
                        .bind(i64::from(*hundredths))
                        .execute(&mut *conn)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO lb_visibility (year, visibility) VALUES ($1, $2)
                         ON CONFLICT (year) DO UPDATE SET visibility = excluded.visibility",
                    )
                    .bind(year)
                    .bind(stored_name(&e.rules.leaderboard_visibility))
                    .execute(conn)
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
                    "lb_members",
                    "SELECT member_id, name, unit_branch_id, COALESCE(service_branch_id, ''), CAST(unit_since AS TEXT),
                            COALESCE(CAST(service_since AS TEXT), '') FROM lb_members ORDER BY member_id",
                ),
                (
                    "lb_memberships",
                    "SELECT membership_id, member_id, branch_id, CAST(from_position AS TEXT), CAST(to_position AS TEXT)
                       FROM lb_memberships ORDER BY membership_id",
                ),
                (
                    "lb_records",
                    "SELECT record_id, member_id, CAST(year AS TEXT), CAST(quarter AS TEXT), CAST(month AS TEXT), category,
                            CAST(minutes AS TEXT), status, CAST(position AS TEXT) FROM lb_records ORDER BY record_id",
                ),
                (
                    "lb_points",
                    "SELECT CAST(year AS TEXT), category, CAST(hundredths AS TEXT), '' FROM lb_points ORDER BY year, category",
                ),
                (
                    "lb_visibility",
                    "SELECT CAST(year AS TEXT), visibility, '', '' FROM lb_visibility ORDER BY year",
                ),
            ] {
                out.extend(dump_rows(pool, table, sql).await?);
            }
            Ok(out)
        })
    }
}

/// Which board.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The year.
    pub year: i32,
    /// One quarter (1–4) of it.
    pub quarter: Option<u32>,
    /// One month (1–12) of it.
    pub month: Option<u32>,
    /// One category (its stored name).
    pub category: Option<String>,
    /// Hours recorded while their member belonged to this branch (as its unit or its
    /// service branch then).
    pub branch_id: Option<String>,
    /// How many entries.
    pub limit: u32,
}

/// One line of a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1 for the first.
    pub rank: u32,
    /// The member.
    pub member_id: String,
    /// Their name.
    pub name: String,
    /// Verified minutes.
    pub minutes: i64,
    /// Points, in hundredths.
    pub points_hundredths: i64,
}

/// The verified records `filter` asks for, as the `r` of a query's `FROM lb_records r
/// JOIN lb_members m`, with `$1` the year, `$2` the quarter or 0, `$3` the month or 0, `$4`
/// the category or '', `$5` the branch or '', and `$7` the verified status.
const FILTERED: &str = "r.status = $7 AND r.year = $1
            AND ($2 = 0 OR r.quarter = $2) AND ($3 = 0 OR r.month = $3)
            AND ($4 = '' OR r.category = $4)
            AND ($5 = ''
                 OR (m.unit_branch_id = $5 AND r.position >= m.unit_since)
                 OR (m.service_branch_id = $5 AND r.position >= m.service_since)
                 OR EXISTS (SELECT 1 FROM lb_memberships ms
                             WHERE ms.member_id = r.member_id AND ms.branch_id = $5
                               AND ms.from_position <= r.position AND r.position < ms.to_position))";

/// The board `filter` asks for, from `pool`: the members ranked by verified minutes (ties
/// by member id), each with their points counted record by record by the domain's
/// formula at the year's points per hour. One statement reads it all, so minutes and
/// points come from the same state of the read model.
pub async fn board(pool: &sqlx::AnyPool, filter: &Filter) -> Result<Vec<Entry>, sqlx::Error> {
    static RECORDS_OF_RANKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = RECORDS_OF_RANKED.get_or_init(|| {
        format!(
            "WITH ranked AS (
                 SELECT r.member_id FROM lb_records r JOIN lb_members m ON m.member_id = r.member_id
                  WHERE {FILTERED}
                  GROUP BY r.member_id ORDER BY SUM(r.minutes) DESC, r.member_id LIMIT $6)
             SELECT r.member_id, m.name, r.minutes, COALESCE(p.hundredths, 0)
               FROM lb_records r JOIN lb_members m ON m.member_id = r.member_id
               LEFT JOIN lb_points p ON p.year = r.year AND p.category = r.category
              WHERE r.member_id IN (SELECT member_id FROM ranked) AND {FILTERED}"
        )
    });
    let rows = sqlx::query(sql.as_str())
        .bind(i64::from(filter.year))
        .bind(i64::from(filter.quarter.unwrap_or(0)))
        .bind(i64::from(filter.month.unwrap_or(0)))
        .bind(filter.category.clone().unwrap_or_default())
        .bind(filter.branch_id.clone().unwrap_or_default())
        .bind(i64::from(filter.limit))
        .bind(RecordStatus::Verified.as_str())
        .fetch_all(pool)
        .await?;
    let out_of_range =
        || sqlx::Error::Protocol("the leaderboard holds a number out of range".into());
    // Member id → (name, minutes, points in hundredths).
    let mut members: HashMap<String, (String, i64, u64)> = HashMap::new();
    for r in &rows {
        let minutes = u32::try_from(r.try_get::<i64, _>(2)?).map_err(|_| out_of_range())?;
        let rate = u32::try_from(r.try_get::<i64, _>(3)?).map_err(|_| out_of_range())?;
        let member = members
            .entry(r.try_get(0)?)
            .or_insert_with(|| (String::new(), 0, 0));
        member.0 = r.try_get(1)?;
        member.1 += i64::from(minutes);
        member.2 += points_hundredths(rate, minutes);
    }
    let mut ranked: Vec<(String, (String, i64, u64))> = members.into_iter().collect();
    // The order the ranked set was chosen by: most minutes first, ties by member id.
    ranked.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .zip(1..)
        .map(|((member_id, (name, minutes, points)), rank)| {
            Ok(Entry {
                rank,
                member_id,
                name,
                minutes,
                points_hundredths: i64::try_from(points).map_err(|_| out_of_range())?,
            })
        })
        .collect()
}

/// A service record's row, as `change` leaves it.
fn record(w: &mut Writes, id: &str, at: i64, change: RecordChange<'_>) -> Result<(), sqlx::Error> {
    // The year, quarter and month a date counts in.
    let period = |date: chrono::NaiveDate| -> [Value; 3] {
        [
            i64::from(date.year()).into(),
            i64::from(date.month0() / 3 + 1).into(),
            i64::from(date.month()).into(),
        ]
    };
    match change {
        RecordChange::Logged(e) => {
            let [year, quarter, month] = period(e.date);
            w.insert(
                &RECORDS,
                vec![
                    id.into(),
                    e.member_id.to_string().into(),
                    year,
                    quarter,
                    month,
                    stored_name(&e.category).into(),
                    i64::from(e.minutes).into(),
                    RecordStatus::Pending.as_str().into(),
                    at.into(),
                ],
            )
        }
        RecordChange::Decided { status, .. } => w.update(
            &RECORDS,
            id,
            vec![("status", Change::Set(status.as_str().into()))],
        ),
        RecordChange::Corrected(after) => {
            let [year, quarter, month] = period(after.date);
            w.update(
                &RECORDS,
                id,
                vec![
                    ("year", Change::Set(year)),
                    ("quarter", Change::Set(quarter)),
                    ("month", Change::Set(month)),
                    ("category", Change::Set(stored_name(&after.category).into())),
                    ("minutes", Change::Set(i64::from(after.minutes).into())),
                ],
            )
        }
    }
}

/// Who may see the year's board (public when the year has no rules yet).
pub async fn visibility(pool: &sqlx::AnyPool, year: i32) -> Result<Visibility, sqlx::Error> {
    let row = sqlx::query("SELECT visibility FROM lb_visibility WHERE year = $1")
        .bind(i64::from(year))
        .fetch_optional(pool)
        .await?;
    match row.map(|r| r.try_get::<String, _>(0)).transpose()? {
        None => Ok(Visibility::Public),
        Some(stored) => {
            serde_json::from_value(serde_json::Value::String(stored.clone())).map_err(|_| {
                sqlx::Error::Protocol(format!(
                    "the leaderboard holds a visibility of {stored:?} for {year}"
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ReadStore;

    #[tokio::test]
    async fn a_stored_visibility_that_does_not_parse_is_an_error_not_public() {
        let store = ReadStore::scratch().await.expect("store");
        for &sql in SCHEMA {
            sqlx::query(sql)
                .execute(store.pool())
                .await
                .expect("schema");
        }
        assert_eq!(
            visibility(store.pool(), 2026).await.expect("no rules yet"),
            Visibility::Public
        );
        for (stored, read) in [
            ("off", Some(Visibility::Off)),
            ("members_only", Some(Visibility::MembersOnly)),
            ("secret", None),
        ] {
            sqlx::query(
                "INSERT INTO lb_visibility (year, visibility) VALUES (2026, $1)
                 ON CONFLICT (year) DO UPDATE SET visibility = excluded.visibility",
            )
            .bind(stored)
            .execute(store.pool())
            .await
            .expect("store a visibility");
            assert_eq!(visibility(store.pool(), 2026).await.ok(), read, "{stored}");
        }
    }
}
