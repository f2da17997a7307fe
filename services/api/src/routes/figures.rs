//! `GET /api/v1/figures?year=[&quarter|&month]`: the figures the county reports, each with
//! the log positions behind it ([`allweather_projections::figures`]); for any signed-in
//! role (they name no person).

use super::QueryRoute;
use super::asof::{AS_OF, When, rules_of, scorecard_for};
use super::extract::{Caller, Check, Valid};
use super::params::{Month, Quarter};
use super::read_error;
use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::values::Year;
use allweather_projections::figures::{
    self, BranchFigures, CampaignFigures, ConcernFigures, Count,
};
use allweather_projections::scorecard;
use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU64;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/figures", county_figures)
            .signed_in()
            .summary("The figures the county reports, each with the log positions behind it: members registered; person-times of service (人次: verified entries and activity attendances) in the county and by branch; participants per campaign; 三九 households visited; concerns by category, raised, resolved and open; anniversaries kept and due, meetings and activities against what each kind must hold, by branch")
            .access("any signed-in role")
            .query::<FiguresQuery>()
            .answers::<Figures>(),
    ]
}

/// Which period, and when.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FiguresQuery {
    /// The programme year.
    year: Year,
    /// One quarter of it (not with `month`).
    quarter: Option<Quarter>,
    /// One month of it (not with `quarter`).
    month: Option<Month>,
    /// Answer once the read model has applied this position (a command's reply position),
    /// else 503 after 5 s.
    min_position: Option<u64>,
    /// Count as the log stood at this position (replayed, one replay at a time; 503 when
    /// busy). Not with `as_of`.
    as_of_position: Option<NonZeroU64>,
    /// Count as the log stood at the end of this county day (replayed likewise).
    as_of: Option<NaiveDate>,
}

impl FiguresQuery {
    fn when(&self) -> When {
        When {
            min_position: self.min_position,
            as_of_position: self.as_of_position,
            as_of: self.as_of,
        }
    }
}

impl Check for FiguresQuery {
    const EXCLUSIVE: &'static [(&'static str, &'static str)] = &[("quarter", "month"), AS_OF];
}

/// The county's figures for a period.
#[derive(Debug, Serialize, JsonSchema)]
struct Figures {
    /// The year.
    year: Year,
    /// The quarter, if one was asked for.
    quarter: Option<u32>,
    /// The month, if one was asked for.
    month: Option<u32>,
    /// The log position they reflect.
    position: u64,
    /// Members registered (not those who left).
    members_registered: u64,
    /// Person-times in the whole county.
    person_times: Count,
    /// By branch.
    branches: Vec<BranchFigures>,
    /// By campaign.
    campaigns: Vec<CampaignFigures>,
    /// 三九 households visited.
    households: Households,
    /// Concerns by category (as of the position, not by period).
    concerns: Vec<ConcernFigures>,
}

/// Households visited.
#[derive(Debug, Serialize, JsonSchema)]
struct Households {
    /// Distinct households visited.
    visited: u64,
    /// Every visit of the period.
    visits: Count,
}

async fn county_figures(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Valid(q): Valid<FiguresQuery>,
) -> Result<Json<Figures>, ApiError> {
    let (store, position) = scorecard_for(&state, q.when(), Some(&principal)).await?;
    let rules = rules_of(&store, q.year).await?;
    let facts = scorecard::figure_facts(store.pool(), q.year.get())
        .await
        .map_err(read_error)?;
    let quarter = q.quarter.map(|x| x.get() as u32);
    let month = q.month.map(|x| x.get() as u32);
    let period = figures::Period {
        year: q.year.get(),
        quarter,
        month,
    };
    let f = figures::figures(&facts, &rules, period);
    Ok(Json(Figures {
        year: q.year,
        quarter,
        month,
        position,
        members_registered: f.members_registered,
        person_times: f.person_times,
        branches: f.branches,
        campaigns: f.campaigns,
        households: Households {
            visited: f.households_visited,
            visits: f.visits,
        },
        concerns: f.concerns,
    }))
}
