//! `GET /api/v1/leaderboards/volunteers`: verified hours and points by member, ranked.

use super::QueryRoute;
use super::extract::{Check, MaybeCaller, Valid};
use super::params::{Limit, Month, Quarter};
use super::{reach, read_error};
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::CommandError;
use allweather_command::auth::AuthError;
use allweather_domain::permissions::Read;
use allweather_domain::values::{Category, Visibility, Year, stored_name};
use allweather_projections::leaderboard;
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/leaderboards/volunteers", volunteers)
            .summary("Verified hours and points by member, ranked; ties by member id")
            .access("as the year's rules say: public, members only (any token), or off (committee and auditors)")
            .query::<BoardQuery>()
            .answers::<Board>(),
    ]
}

/// Which board.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BoardQuery {
    /// The programme year.
    year: Year,
    /// One quarter of it (not with `month`).
    quarter: Option<Quarter>,
    /// One month of it (not with `quarter`).
    month: Option<Month>,
    /// Hours of one category.
    category: Option<Category>,
    /// Hours recorded while their member belonged to this branch.
    branch_id: Option<Uuid>,
    /// At most this many entries.
    #[serde(default)]
    limit: Limit<50, 1_000>,
    /// Answer once the read model has applied this position (a command's reply position),
    /// else 503 after 5 s.
    min_position: Option<u64>,
}

impl Check for BoardQuery {
    const EXCLUSIVE: &'static [(&'static str, &'static str)] = &[("quarter", "month")];
}

/// A volunteer leaderboard.
#[derive(Debug, Serialize, JsonSchema)]
struct Board {
    /// The year.
    year: Year,
    /// The log position the board reflects.
    position: u64,
    /// Who may see it, by the year's rules.
    visibility: Visibility,
    /// The members, best first.
    entries: Vec<BoardEntry>,
}

/// A member on the board.
#[derive(Debug, Serialize, JsonSchema)]
struct BoardEntry {
    /// 1 for the first.
    rank: u32,
    /// The member.
    member_id: String,
    /// Their name.
    name: String,
    /// Verified hours.
    hours: f64,
    /// The same, in minutes.
    minutes: i64,
    /// Points.
    points: f64,
    /// The same, in hundredths.
    points_hundredths: i64,
}

/// The refusal of a year whose leaderboards are off.
fn off(year: Year) -> ApiError {
    ApiError::forbidden(format!(
        "the {year} volunteer leaderboards are off by that year's rules"
    ))
}

async fn volunteers(
    State(state): State<AppState>,
    MaybeCaller(principal): MaybeCaller,
    Valid(q): Valid<BoardQuery>,
) -> Result<Json<Board>, ApiError> {
    let progress = state.progress(leaderboard::NAME)?;
    reach(progress, q.min_position).await?;
    // Who may look is the year's rules' (as far as the model has applied them): anyone,
    // members (any valid token), or only the committee and its auditors.
    let pool = state.read.pool();
    let visibility = leaderboard::visibility(pool, q.year.get())
        .await
        .map_err(read_error)?;
    match (visibility, &principal) {
        (Visibility::Public, _) | (Visibility::MembersOnly, Some(_)) => {}
        (Visibility::MembersOnly, None) => return Err(AuthError::Missing.into()),
        // Off: only oversight looks, as the domain's read rules say who that is.
        (Visibility::Off, Some(principal)) => {
            state
                .commands
                .authorize(principal, &Read::Oversight)
                .await
                .map_err(|e| match e {
                    CommandError::Refused(_) => off(q.year),
                    other => other.into(),
                })?;
        }
        (Visibility::Off, None) => return Err(off(q.year)),
    }
    let position = progress.position();
    let filter = leaderboard::Filter {
        year: q.year.get(),
        quarter: q.quarter.map(|x| x.get() as u32),
        month: q.month.map(|x| x.get() as u32),
        category: q.category.map(|c| stored_name(&c)),
        branch_id: q.branch_id.map(|b| b.to_string()),
        limit: q.limit.get(),
    };
    let entries = leaderboard::board(pool, &filter)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|e| BoardEntry {
            rank: e.rank,
            member_id: e.member_id,
            name: e.name,
            hours: e.minutes as f64 / 60.0,
            minutes: e.minutes,
            points: e.points_hundredths as f64 / 100.0,
            points_hundredths: e.points_hundredths,
        })
        .collect();
    Ok(Json(Board {
        year: q.year,
        position,
        visibility,
        entries,
    }))
}
