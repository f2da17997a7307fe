//! `GET /api/v1/assessments/{member_id}?year=`: a member's assessment — every criterion
//! with its evidence, the judgements people recorded (the card's opinions, stars, the
//! appraisal as it stands) and every disagreement between them and the evidence. Never a
//! rating of the system's own.

use super::QueryRoute;
use super::asof::{AS_OF, Number, When, rules_of, scorecard_for};
use super::extract::{Caller, Check, IdParam, Valid};
use super::read_error;
use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::permissions::Read;
use allweather_domain::values::{Capacity, Rating, Side, Year};
use allweather_projections::assessment;
use allweather_projections::scorecard;
use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU64;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/assessments/{member_id}", member_assessment)
            .signed_in()
            .summary("A member's assessment: each criterion with its value, requirement, verdict and evidence (log positions); the card's two opinions and stars and the standing appraisal, as people recorded them; and every disagreement between a recorded judgement and the evidence. Never a rating of the system's own")
            .access("committee admins, auditors, the member, and the secretaries of the member's branches")
            .path_param::<uuid::Uuid>("member_id", "the member")
            .query::<AssessmentQuery>()
            .answers::<Assessment>(),
    ]
}

/// Which year, and when.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AssessmentQuery {
    /// The programme year.
    year: Year,
    /// Answer once the read model has applied this position (a command's reply position),
    /// else 503 after 5 s.
    min_position: Option<u64>,
    /// Judge as the log stood at this position (replayed, one replay at a time; 503 when
    /// busy). Not with `as_of`.
    as_of_position: Option<NonZeroU64>,
    /// Judge as the log stood at the end of this county day (replayed likewise).
    as_of: Option<NaiveDate>,
}

impl AssessmentQuery {
    fn when(&self) -> When {
        When {
            min_position: self.min_position,
            as_of_position: self.as_of_position,
            as_of: self.as_of,
        }
    }
}

impl Check for AssessmentQuery {
    const EXCLUSIVE: &'static [(&'static str, &'static str)] = &[AS_OF];
}

/// A member's assessment for a year.
#[derive(Debug, Serialize, JsonSchema)]
struct Assessment {
    /// The member.
    member_id: String,
    /// Their name.
    name: String,
    /// The year.
    year: Year,
    /// The log position it reflects.
    position: u64,
    /// Whether both sides of the card are signed.
    complete: bool,
    /// Every criterion.
    criteria: Vec<Criterion>,
    /// The card as both sides recorded it.
    card: Card,
    /// The appraisal as it stands.
    appraisal: Option<Appraisal>,
    /// Every disagreement between a recorded judgement and the evidence.
    disagreements: Vec<Disagreement>,
}

/// One criterion.
#[derive(Debug, Serialize, JsonSchema)]
struct Criterion {
    /// Its name.
    name: &'static str,
    /// What the member reached.
    value: Number,
    /// What the rules require (null: it only informs).
    required: Option<Number>,
    /// Whether it is met (null when nothing is required).
    passed: Option<bool>,
    /// The positions of the events that justify the value.
    evidence: Vec<u64>,
}

/// The card's judgements.
#[derive(Debug, Serialize, JsonSchema)]
struct Card {
    /// The community side's opinion, once signed.
    community: Option<Opinion>,
    /// The unit side's opinion, once signed.
    unit: Option<Opinion>,
    /// The stars the community side awarded.
    stars: Option<StarsAt>,
}

/// A side's opinion.
#[derive(Debug, Serialize, JsonSchema)]
struct Opinion {
    /// The opinion written.
    opinion: Rating,
    /// The signer's remarks.
    remarks: Option<String>,
    /// In which capacity it was signed.
    capacity: Option<Capacity>,
    /// Where it was signed.
    position: u64,
}

/// Stars, and where they were awarded.
#[derive(Debug, Serialize, JsonSchema)]
struct StarsAt {
    /// How many.
    stars: u32,
    /// Where.
    position: u64,
}

/// The appraisal as it stands.
#[derive(Debug, Serialize, JsonSchema)]
struct Appraisal {
    /// The rating that stands.
    rating: Rating,
    /// `recorded`, `confirmed` or `overturned`.
    settled: &'static str,
    /// The log position of the evidence the unit branch made it on.
    basis_position: u64,
    /// The unit branch's remarks.
    remarks: String,
    /// The committee's reason, when it overturned the appraisal.
    reason: Option<String>,
    /// The positions of every recording, confirmation and overturning, in order.
    positions: Vec<u64>,
}

/// A recorded judgement the evidence does not bear out.
#[derive(Debug, Serialize, JsonSchema)]
struct Disagreement {
    /// Whose judgement: `appraisal`, `community_opinion` or `unit_opinion`.
    judgement: &'static str,
    /// The rating it gave.
    rating: Rating,
    /// What it disagrees with: a criterion's name, or the other judgement's.
    with: &'static str,
    /// The disagreement in a sentence.
    statement: String,
    /// The positions of the judgement and of the evidence it disagrees with.
    evidence: Vec<u64>,
}

async fn member_assessment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdParam(member_id): IdParam,
    Valid(q): Valid<AssessmentQuery>,
) -> Result<Json<Assessment>, ApiError> {
    // Decided on the log as it stands, before any lookup or replay: a refusal says
    // nothing of whether the member exists.
    state
        .commands
        .authorize(&principal, &Read::Member(member_id))
        .await?;
    let (store, position) = scorecard_for(&state, q.when(), Some(&principal)).await?;
    let id = member_id.to_string();
    let book = scorecard::book(store.pool(), q.year.get(), Some(&id))
        .await
        .map_err(read_error)?;
    let Some(member) = book.members.get(&id) else {
        return Err(ApiError::not_found(format!("no member {id}")));
    };
    let rules = rules_of(&store, q.year).await?;
    let a = assessment::assess(q.year.get(), &id, member, &rules);
    let opinion = |side| {
        a.opinions.iter().find(|o| o.side == side).map(|o| Opinion {
            opinion: o.opinion,
            remarks: o.remarks.clone(),
            capacity: o.capacity,
            position: o.position,
        })
    };
    Ok(Json(Assessment {
        criteria: a
            .criteria
            .iter()
            .map(|c| Criterion {
                name: c.name,
                value: c.value.into(),
                required: c.required.map(Number::from),
                passed: c.passed,
                evidence: c.evidence.clone(),
            })
            .collect(),
        card: Card {
            community: opinion(Side::Community),
            unit: opinion(Side::Unit),
            stars: a.stars.map(|(stars, position)| StarsAt { stars, position }),
        },
        appraisal: a.appraisal.as_ref().map(|p| Appraisal {
            rating: p.rating,
            settled: p.settled.name(),
            basis_position: p.basis_position,
            remarks: p.remarks.clone(),
            reason: p.reason.clone(),
            positions: p.positions.clone(),
        }),
        disagreements: a
            .disagreements
            .iter()
            .map(|d| Disagreement {
                judgement: d.judgement,
                rating: d.rating,
                with: d.with,
                statement: d.statement.clone(),
                evidence: d.evidence.clone(),
            })
            .collect(),
        member_id: a.member_id,
        name: a.name,
        year: q.year,
        position,
        complete: a.complete,
    }))
}
