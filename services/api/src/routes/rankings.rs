//! `GET /api/v1/rankings/branches?year=`: branches ranked by the year's weighted score,
//! with every criterion; public, as the programme's rankings are, and naming no person.

use super::QueryRoute;
use super::asof::{AS_OF, Number, When, rules_of, scorecard_for};
use super::extract::{Check, MaybeCaller, Valid};
use super::read_error;
use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::values::{BranchKind, Year, stored_name};
use allweather_projections::ReadStore;
use allweather_projections::assessment;
use allweather_projections::scorecard;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse as _, Response};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::num::NonZeroU64;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/rankings/branches", branch_rankings)
            .summary("Branches ranked by the year's weighted score, with every criterion")
            .query::<RankingQuery>()
            .answers::<Ranking>(),
    ]
}

/// Which ranking, and when.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RankingQuery {
    /// The programme year.
    year: Year,
    /// Only branches of this kind.
    kind: Option<BranchKind>,
    /// Answer once the read model has applied this position (a command's reply position),
    /// else 503 after 5 s.
    min_position: Option<u64>,
    /// Judge as the log stood at this position (replayed, one replay at a time; 503 when
    /// busy). Not with `as_of`.
    as_of_position: Option<NonZeroU64>,
    /// Judge as the log stood at the end of this county day (replayed likewise).
    as_of: Option<NaiveDate>,
}

impl RankingQuery {
    fn when(&self) -> When {
        When {
            min_position: self.min_position,
            as_of_position: self.as_of_position,
            as_of: self.as_of,
        }
    }
}

impl Check for RankingQuery {
    const EXCLUSIVE: &'static [(&'static str, &'static str)] = &[AS_OF];
}

/// The year's ranking of branches.
#[derive(Debug, Serialize, JsonSchema)]
struct Ranking {
    /// The year.
    year: Year,
    /// The log position it reflects.
    position: u64,
    /// The branches, first first.
    branches: Vec<RankedBranch>,
}

/// A branch's place.
#[derive(Debug, Serialize, JsonSchema)]
struct RankedBranch {
    /// 1 for the first.
    rank: u32,
    /// The branch.
    branch_id: String,
    /// Its name.
    name: String,
    /// Its kind.
    kind: String,
    /// How many members it has.
    members: u64,
    /// The weighted score, 0–100.
    score: f64,
    /// What the score is made of.
    criteria: Vec<ScoreCriterion>,
}

/// One criterion of a branch's score.
#[derive(Debug, Serialize, JsonSchema)]
struct ScoreCriterion {
    /// Its name.
    name: &'static str,
    /// What the branch reached.
    value: Number,
    /// What the rules require, if they set a number.
    required: Option<Number>,
    /// How far the branch reached, 0–1.
    reached: f64,
    /// Its weight in the score, in percent.
    weight: u32,
}

/// The live rankings last computed, by year and kind, with the position they reflect:
/// the rankings are public, so every request at one position shares one computation
/// rather than each recomputing the county's book.
#[derive(Debug)]
pub(crate) struct Live {
    /// By year and kind: the position, and the rankings at it as the JSON answered.
    kept: tokio::sync::Mutex<HashMap<RankingKey, (u64, Bytes)>>,
    computed: prometheus::IntCounter,
}

impl Live {
    /// Counts each computation in `computed`.
    pub(crate) fn new(computed: prometheus::IntCounter) -> Live {
        Live {
            kept: tokio::sync::Mutex::default(),
            computed,
        }
    }
}

/// Which rankings: a year's, of one kind of branch or all.
type RankingKey = (Year, Option<BranchKind>);

async fn branch_rankings(
    State(state): State<AppState>,
    MaybeCaller(principal): MaybeCaller,
    Valid(q): Valid<RankingQuery>,
) -> Result<Response, ApiError> {
    let live = q.as_of.is_none() && q.as_of_position.is_none();
    let (store, position) = scorecard_for(&state, q.when(), principal.as_ref()).await?;
    if !live {
        return Ok(Json(ranking(&store, position, &q).await?).into_response());
    }
    // Held while computing: requests that arrive together for a new position wait for
    // the one computation and answer from it.
    let mut kept = state.rankings.kept.lock().await;
    let key = (q.year, q.kind);
    let answer = match kept.get(&key) {
        Some((at, answer)) if *at == position => answer.clone(),
        _ => {
            let computed = ranking(&store, position, &q).await?;
            let answer = Bytes::from(
                serde_json::to_vec(&computed)
                    .map_err(|e| anyhow::Error::new(e).context("the rankings as JSON"))?,
            );
            state.rankings.computed.inc();
            kept.insert(key, (position, answer.clone()));
            answer
        }
    };
    drop(kept);
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// The rankings of `q`'s year and kind in `store`, which reflects `position`.
async fn ranking(store: &ReadStore, position: u64, q: &RankingQuery) -> Result<Ranking, ApiError> {
    let rules = rules_of(store, q.year).await?;
    let book = scorecard::book(store.pool(), q.year.get(), None)
        .await
        .map_err(read_error)?;
    let kind = q.kind.map(|k| stored_name(&k));
    let branches = assessment::rank(&book, &rules, kind.as_deref())
        .into_iter()
        .map(|s| RankedBranch {
            rank: s.rank,
            branch_id: s.branch_id,
            name: s.name,
            kind: s.kind,
            members: s.members,
            score: s.score as f64 / 100.0,
            criteria: s
                .criteria
                .iter()
                .map(|c| ScoreCriterion {
                    name: c.name,
                    value: c.value.into(),
                    required: c.required.map(Number::from),
                    reached: c.reached as f64 / 10_000.0,
                    weight: c.weight,
                })
                .collect(),
        })
        .collect();
    Ok(Ranking {
        year: q.year,
        position,
        branches,
    })
}
