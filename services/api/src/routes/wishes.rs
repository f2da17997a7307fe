//! The wish board (never a beneficiary), a wish's beneficiary for those who deliver it,
//! and the time wishes take to be claimed and fulfilled.

use super::QueryRoute;
use super::extract::{Caller, Check, IdParam, Valid};
use super::params::{Limit, WishStatus, YearQuery};
use super::{reach, read_error};
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::reply::BeneficiaryView;
use allweather_domain::values::Year;
use allweather_events::Timestamp;
use allweather_projections::wishes;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/wishes", wish_board)
            .summary("The wish board, newest first; never the beneficiary")
            .query::<WishQuery>()
            .answers::<WishBoard>(),
        QueryRoute::get("/api/v1/wishes/{wish_id}/beneficiary", wish_beneficiary)
            .signed_in()
            .summary("The name and contact of a wish's beneficiary, to deliver it; a placeholder once the person is erased")
            .access("the wish's publisher, the service centre, and while it is claimed or fulfilled its claimer and the secretaries of the claimer's branches")
            .path_param::<uuid::Uuid>("wish_id", "the wish")
            .answers::<BeneficiaryView>(),
        QueryRoute::get("/api/v1/wishes/timings", wish_timings)
            .summary("Time to claim and to fulfil (count, median, 90th percentile) by category and month of publication")
            .query::<YearQuery>()
            .answers::<Timings>(),
    ]
}

/// Which wishes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WishQuery {
    /// Only wishes in this status.
    status: Option<WishStatus>,
    /// At most this many wishes.
    #[serde(default)]
    limit: Limit<100, 1_000>,
    /// Answer once the read model has applied this position, else 503 after 5 s.
    min_position: Option<u64>,
}

impl Check for WishQuery {}

/// The wish board.
#[derive(Debug, Serialize, JsonSchema)]
struct WishBoard {
    /// The log position the board reflects.
    position: u64,
    /// The wishes, newest first.
    wishes: Vec<WishLine>,
}

/// A wish on the board.
#[derive(Debug, Serialize, JsonSchema)]
struct WishLine {
    /// The wish.
    wish_id: String,
    /// What is wished for.
    title: String,
    /// Its category.
    category: String,
    /// `open`, `claimed`, `fulfilled`, `confirmed` or `cancelled`.
    status: String,
    /// The member holding the claim, while a wish of one place is claimed.
    claimed_by: Option<String>,
    /// How many members it takes.
    volunteers: i64,
    /// Places taken: open claims, and parts fulfilled or confirmed.
    taken: i64,
    /// When it was published.
    published_at: Timestamp,
    /// When the current claim was taken.
    claimed_at: Option<Timestamp>,
}

/// The wish board: public, with the beneficiary never shown.
async fn wish_board(
    State(state): State<AppState>,
    Valid(q): Valid<WishQuery>,
) -> Result<Json<WishBoard>, ApiError> {
    let progress = state.progress(wishes::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let status = q.status.map(WishStatus::as_str);
    let wishes = wishes::board(state.read.pool(), status, q.limit.get())
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|w| WishLine {
            wish_id: w.wish_id,
            title: w.title,
            category: w.category,
            status: w.status,
            claimed_by: w.claimed_by,
            volunteers: w.volunteers,
            taken: w.taken,
            published_at: Timestamp::from_micros(w.published_at_us),
            claimed_at: w.claimed_at_us.map(Timestamp::from_micros),
        })
        .collect();
    Ok(Json(WishBoard { position, wishes }))
}

/// Who a wish is for, for those who deliver it (read from the log and opened with the
/// person's key: no read model holds personal details in clear).
async fn wish_beneficiary(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdParam(wish_id): IdParam,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let details = state.commands.beneficiary(&principal, wish_id).await?;
    // Personal details: no cache on the way may keep them.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(details)))
}

/// Time to claim and to fulfil.
#[derive(Debug, Serialize, JsonSchema)]
struct Timings {
    /// The year.
    year: Year,
    /// The log position they reflect.
    position: u64,
    /// By category and month of publication.
    timings: Vec<Timing>,
}

/// The timings of one category and month.
#[derive(Debug, Serialize, JsonSchema)]
struct Timing {
    /// The category.
    category: String,
    /// `YYYY-MM` of publication.
    month: String,
    /// Publication to first claim.
    to_claim: Distribution,
    /// Publication to fulfilment.
    to_fulfil: Distribution,
}

/// How long, in minutes.
#[derive(Debug, Serialize, JsonSchema)]
struct Distribution {
    /// How many.
    count: usize,
    /// The median (nearest rank).
    median_minutes: i64,
    /// The 90th percentile (nearest rank).
    p90_minutes: i64,
}

impl From<wishes::Distribution> for Distribution {
    fn from(d: wishes::Distribution) -> Distribution {
        Distribution {
            count: d.count,
            median_minutes: d.median_minutes,
            p90_minutes: d.p90_minutes,
        }
    }
}

/// Time to claim and to fulfil, by category and month.
async fn wish_timings(
    State(state): State<AppState>,
    Valid(q): Valid<YearQuery>,
) -> Result<Json<Timings>, ApiError> {
    let progress = state.progress(wishes::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let timings = wishes::timings(state.read.pool(), q.year.get())
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|t| Timing {
            category: t.category,
            month: t.month,
            to_claim: t.to_claim.into(),
            to_fulfil: t.to_fulfil.into(),
        })
        .collect();
    Ok(Json(Timings {
        year: q.year,
        position,
        timings,
    }))
}
