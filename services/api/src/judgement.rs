//! The year-end queries: branch rankings and members' assessments, live or as of a past
//! position or date.

use crate::AppState;
use crate::problem::ApiError;
use crate::routes::{reach, read_error};
use allweather_domain::rules::Rules;
use allweather_domain::values::Side;
use allweather_events::{Role, Timestamp};
use allweather_projections::ReadStore;
use allweather_projections::assessment::{self, Measure};
use allweather_projections::figures;
use allweather_projections::scorecard::{self, AsOf};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use chrono::{NaiveDate, TimeZone as _};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgementQuery {
    year: i32,
    kind: Option<String>,
    quarter: Option<u32>,
    month: Option<u32>,
    min_position: Option<u64>,
    as_of_position: Option<u64>,
    as_of: Option<NaiveDate>,
}

type QueryResult = Result<Query<JudgementQuery>, axum::extract::rejection::QueryRejection>;

impl JudgementQuery {
    /// Refuses a period shorter than the year, for the queries that judge a whole year.
    fn whole_year(&self) -> Result<(), ApiError> {
        match (self.quarter, self.month) {
            (Some(_), _) => Err(ApiError::field("quarter", "only figures take a quarter")),
            (_, Some(_)) => Err(ApiError::field("month", "only figures take a month")),
            _ => Ok(()),
        }
    }

    fn checked(query: QueryResult) -> Result<JudgementQuery, ApiError> {
        let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
        if !(2000..=2100).contains(&q.year) {
            return Err(ApiError::field("year", "must be 2000 to 2100"));
        }
        if q.as_of.is_some() && q.as_of_position.is_some() {
            return Err(ApiError::field(
                "as_of",
                "give as_of (a date) or as_of_position, not both",
            ));
        }
        if q.quarter.is_some() && q.month.is_some() {
            return Err(ApiError::field(
                "quarter",
                "give a quarter or a month, not both",
            ));
        }
        if q.quarter.is_some_and(|x| !(1..=4).contains(&x)) {
            return Err(ApiError::field("quarter", "must be 1 to 4"));
        }
        if q.month.is_some_and(|x| !(1..=12).contains(&x)) {
            return Err(ApiError::field("month", "must be 1 to 12"));
        }
        if q.as_of_position == Some(0) {
            return Err(ApiError::field(
                "as_of_position",
                "must be a position (1 or more)",
            ));
        }
        Ok(q)
    }
}

/// The scorecard a query reads, and the position it reflects: the live one (once it has
/// applied `min_position`), or one replayed from the log up to the position or the end of
/// the county's day asked for (see [`crate::replays`]).
async fn scorecard_for(state: &AppState, q: &JudgementQuery) -> Result<(ReadStore, u64), ApiError> {
    let as_of = match (q.as_of_position, q.as_of) {
        (Some(p), _) => AsOf::Position(p),
        (None, Some(date)) => {
            let next_day = date
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| {
                    state
                        .commands
                        .options()
                        .county_offset
                        .from_local_datetime(&t)
                        .single()
                })
                .ok_or_else(|| ApiError::field("as_of", "no such county day"))?;
            AsOf::Before(Timestamp::from_datetime(next_day.to_utc()))
        }
        (None, None) => {
            let progress = state.progress(scorecard::NAME)?;
            reach(progress, q.min_position).await?;
            return Ok((state.read.clone(), progress.position()));
        }
    };
    let head = state.commands.log().head().await?.position;
    if let AsOf::Position(p) = as_of
        && p > head
    {
        return Err(ApiError::field(
            "as_of_position",
            format!("the log ends at position {head}"),
        ));
    }
    state
        .replays
        .scorecard(state.commands.log(), as_of, head)
        .await
}

/// The rules `year` is judged by, as of the scorecard read.
async fn rules_of(store: &ReadStore, year: i32) -> Result<Rules, ApiError> {
    scorecard::rules(store.pool(), year)
        .await
        .map_err(read_error)?
        .ok_or_else(|| ApiError::not_found(format!("no rules were adopted for {year}")))
}

fn criterion_json(value: Measure, required: Option<Measure>) -> (Value, Value) {
    (
        value.to_json(),
        required.map_or(Value::Null, Measure::to_json),
    )
}

/// `GET /api/v1/rankings/branches?year=Y[&kind=K]`: public, as the programme's rankings
/// are; no person is named.
pub(crate) async fn branch_rankings(
    State(state): State<AppState>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    let q = JudgementQuery::checked(query)?;
    q.whole_year()?;
    const KINDS: [&str; 3] = ["unit", "service", "temporary"];
    if let Some(k) = q.kind.as_deref().filter(|k| !KINDS.contains(k)) {
        return Err(ApiError::field(
            "kind",
            format!("{k:?} is not one of {}", KINDS.join(", ")),
        ));
    }
    let (store, position) = scorecard_for(&state, &q).await?;
    let rules = rules_of(&store, q.year).await?;
    let book = scorecard::book(store.pool(), q.year, None)
        .await
        .map_err(read_error)?;
    let branches: Vec<Value> = assessment::rank(&book, &rules, q.kind.as_deref())
        .into_iter()
        .map(|s| {
            let criteria: Vec<Value> = s
                .criteria
                .iter()
                .map(|c| {
                    let (value, required) = criterion_json(c.value, c.required);
                    json!({"name": c.name, "value": value, "required": required,
                           "reached": c.reached as f64 / 10_000.0, "weight": c.weight})
                })
                .collect();
            json!({"rank": s.rank, "branch_id": s.branch_id, "name": s.name, "kind": s.kind,
                   "members": s.members, "score": s.score as f64 / 100.0, "criteria": criteria})
        })
        .collect();
    Ok(Json(
        json!({"year": q.year, "position": position, "branches": branches}),
    ))
}

/// `GET /api/v1/assessments/{member_id}?year=Y`: for the committee, its auditors, the
/// member, and the secretaries of the member's branches.
pub(crate) async fn member_assessment(
    State(state): State<AppState>,
    Path(member_id): Path<String>,
    headers: HeaderMap,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    let member_id: Uuid = member_id
        .parse()
        .map_err(|_| ApiError::field("member_id", "must be a UUID"))?;
    let q = JudgementQuery::checked(query)?;
    if q.kind.is_some() {
        return Err(ApiError::field("kind", "only rankings take a kind"));
    }
    q.whole_year()?;
    let (store, position) = scorecard_for(&state, &q).await?;
    let id = member_id.to_string();
    let book = scorecard::book(store.pool(), q.year, Some(&id))
        .await
        .map_err(read_error)?;
    let Some(member) = book.members.get(&id) else {
        return Err(ApiError::not_found(format!("no member {id}")));
    };
    let theirs = |b: Option<Uuid>| {
        b.is_some_and(|b| {
            let b = b.to_string();
            member.unit_branch_id == b || member.service_branch_id.as_deref() == Some(&b)
        })
    };
    let allowed = match principal.role {
        Role::CommitteeAdmin | Role::Auditor => true,
        Role::Member => principal.member_id == Some(member_id),
        Role::Secretary => principal.member_id == Some(member_id) || theirs(principal.branch_id),
        Role::ServiceCentre | Role::System => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "an assessment is for the committee, its auditors, the member and the secretaries of the member's branches",
        ));
    }
    let rules = rules_of(&store, q.year).await?;
    let a = assessment::assess(q.year, &id, member, &rules);
    Ok(Json(assessment_json(&a, q.year, position)))
}

/// An assessment as the API answers it: the criteria, the judgements people recorded
/// and their disagreements with the evidence. No rating of the system's own.
pub(crate) fn assessment_json(a: &assessment::Assessment, year: i32, position: u64) -> Value {
    let criteria: Vec<Value> = a
        .criteria
        .iter()
        .map(|c| {
            let (value, required) = criterion_json(c.value, c.required);
            json!({"name": c.name, "value": value, "required": required,
                   "passed": c.passed, "evidence": c.evidence})
        })
        .collect();
    let opinion = |side| {
        a.opinions.iter().find(|o| o.side == side).map(|o| {
            json!({"opinion": o.opinion, "remarks": o.remarks, "capacity": o.capacity,
                   "position": o.position})
        })
    };
    let appraisal = a.appraisal.as_ref().map(|p| {
        json!({"rating": p.rating, "settled": p.settled.name(), "basis_position": p.basis_position,
               "remarks": p.remarks, "reason": p.reason, "positions": p.positions})
    });
    let disagreements: Vec<Value> = a
        .disagreements
        .iter()
        .map(|d| {
            json!({"judgement": d.judgement, "rating": d.rating, "with": d.with,
                   "statement": d.statement, "evidence": d.evidence})
        })
        .collect();
    json!({
        "member_id": a.member_id, "name": a.name, "year": year, "position": position,
        "complete": a.complete, "criteria": criteria,
        "card": {
            "community": opinion(Side::Community),
            "unit": opinion(Side::Unit),
            "stars": a.stars.map(|(stars, at)| json!({"stars": stars, "position": at})),
        },
        "appraisal": appraisal,
        "disagreements": disagreements,
    })
}

/// `GET /api/v1/figures?year=Y[&quarter=Q|&month=M]`: the figures the county reports, each
/// with the log positions behind it ([`allweather_projections::figures`]); for any
/// signed-in role (they name no person).
pub(crate) async fn county_figures(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    state.tokens.require(headers.get(header::AUTHORIZATION))?;
    let q = JudgementQuery::checked(query)?;
    if q.kind.is_some() {
        return Err(ApiError::field("kind", "only rankings take a kind"));
    }
    let (store, position) = scorecard_for(&state, &q).await?;
    let rules = rules_of(&store, q.year).await?;
    let facts = scorecard::figure_facts(store.pool(), q.year)
        .await
        .map_err(read_error)?;
    let period = figures::Period {
        year: q.year,
        quarter: q.quarter,
        month: q.month,
    };
    let f = figures::figures(&facts, &rules, period);
    let count = |c: &figures::Count| json!({"n": c.n, "evidence": c.evidence});
    let branches: Vec<Value> = f
        .branches
        .iter()
        .map(|b| {
            json!({
                "branch_id": b.branch_id, "name": b.name, "kind": b.kind, "members": b.members,
                "person_times": count(&b.person_times),
                "anniversaries": count(&b.anniversaries), "anniversaries_due": b.anniversaries_due,
                "meetings": count(&b.meetings), "meetings_required": b.meetings_required,
                "activities": count(&b.activities), "activities_required": b.activities_required,
            })
        })
        .collect();
    let campaigns: Vec<Value> = f
        .campaigns
        .iter()
        .map(|c| {
            json!({"campaign_id": c.campaign_id, "name": c.name, "participants": c.participants,
                   "person_times": count(&c.person_times)})
        })
        .collect();
    let concerns: Vec<Value> = f
        .concerns
        .iter()
        .map(|c| {
            json!({"category": c.category, "raised": count(&c.raised),
                   "resolved": count(&c.resolved), "open": c.open})
        })
        .collect();
    Ok(Json(json!({
        "year": q.year, "quarter": q.quarter, "month": q.month, "position": position,
        "members_registered": f.members_registered,
        "person_times": count(&f.person_times),
        "branches": branches,
        "campaigns": campaigns,
        "households": {"visited": f.households_visited, "visits": count(&f.visits)},
        "concerns": concerns,
    })))
}
