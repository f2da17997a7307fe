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
pub(crate) struct Assessment {
    /// The member.
    pub(crate) member_id: String,
    /// Their name.
    pub(crate) name: String,
    /// The year.
    pub(crate) year: Year,
    /// The log position it reflects.
    pub(crate) position: u64,
    /// Whether both sides of the card are signed.
    pub(crate) complete: bool,
    /// Every criterion.
    pub(crate) criteria: Vec<Criterion>,
    /// The card as both sides recorded it.
    pub(crate) card: Card,
    /// The appraisal as it stands.
    pub(crate) appraisal: Option<Appraisal>,
    /// Every disagreement between a recorded judgement and the evidence.
    pub(crate) disagreements: Vec<Disagreement>,
}

/// One criterion.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Criterion {
    /// Its name.
    pub(crate) name: &'static str,
    /// What the member reached.
    pub(crate) value: Number,
    /// What the rules require (null: it only informs).
    pub(crate) required: Option<Number>,
    /// Whether it is met (null when nothing is required).
    pub(crate) passed: Option<bool>,
    /// The positions of the events that justify the value.
    pub(crate) evidence: Vec<u64>,
}

/// The card's judgements.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Card {
    /// The community side's opinion, once signed.
    pub(crate) community: Option<Opinion>,
    /// The unit side's opinion, once signed.
    pub(crate) unit: Option<Opinion>,
    /// The stars the community side awarded.
    pub(crate) stars: Option<StarsAt>,
}

/// A side's opinion.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Opinion {
    /// The opinion written.
    pub(crate) opinion: Rating,
    /// The signer's remarks.
    pub(crate) remarks: Option<String>,
    /// In which capacity it was signed.
    pub(crate) capacity: Option<Capacity>,
    /// Where it was signed.
    pub(crate) position: u64,
}

/// Stars, and where they were awarded.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct StarsAt {
    /// How many.
    pub(crate) stars: u32,
    /// Where.
    pub(crate) position: u64,
}

/// The appraisal as it stands.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Appraisal {
    /// The rating that stands.
    pub(crate) rating: Rating,
    /// `recorded`, `confirmed` or `overturned`.
    pub(crate) settled: &'static str,
    /// The log position of the evidence the unit branch made it on.
    pub(crate) basis_position: u64,
    /// The unit branch's remarks.
    pub(crate) remarks: String,
    /// The committee's reason, when it overturned the appraisal.
    pub(crate) reason: Option<String>,
    /// The positions of every recording, confirmation and overturning, in order.
    pub(crate) positions: Vec<u64>,
}

/// A recorded judgement the evidence does not bear out.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Disagreement {
    /// Whose judgement: `appraisal`, `community_opinion` or `unit_opinion`.
    pub(crate) judgement: &'static str,
    /// The rating it gave.
    pub(crate) rating: Rating,
    /// What it disagrees with: a criterion's name, or the other judgement's.
    pub(crate) with: &'static str,
    /// The disagreement in a sentence.
    pub(crate) statement: String,
    /// The positions of the judgement and of the evidence it disagrees with.
    pub(crate) evidence: Vec<u64>,
}

async fn member_assessment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdParam(member_id): IdParam,
    Valid(q): Valid<AssessmentQuery>,
) -> Result<Json<Assessment>, ApiError> {
    Ok(Json(
        assessment(&state, &principal, member_id, q.year, q.when()).await?,
    ))
}

/// Member `member_id`'s assessment for `year`, as `principal` may read it: the API's
/// answer and the member's page are this one judgement.
pub(crate) async fn assessment(
    state: &AppState,
    principal: &allweather_domain::Principal,
    member_id: uuid::Uuid,
    year: Year,
    when: When,
) -> Result<Assessment, ApiError> {
    // Decided on the log as it stands, before any lookup or replay: a refusal says
    // nothing of whether the member exists.
    state
        .commands
        .authorize(principal, &Read::Member(member_id))
        .await?;
    let (store, position) = scorecard_for(state, when, Some(principal)).await?;
    let id = member_id.to_string();
    let book = scorecard::book(store.pool(), year.get(), Some(&id))
        .await
        .map_err(read_error)?;
    let Some(member) = book.members.get(&id) else {
        return Err(ApiError::not_found(format!("no member {id}")));
    };
    let rules = rules_of(&store, year).await?;
    let a = assessment::assess(year.get(), &id, member, &rules);
    let opinion = |side| {
        a.opinions.iter().find(|o| o.side == side).map(|o| Opinion {
            opinion: o.opinion,
            remarks: o.remarks.clone(),
            capacity: o.capacity,
            position: o.position,
        })
    };
    Ok(Assessment {
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
        year,
        position,
        complete: a.complete,
    })
}
