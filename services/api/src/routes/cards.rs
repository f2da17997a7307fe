//! `GET /api/v1/cards/{member_id}?year=`: a member's dual card as both sides recorded it.

use super::QueryRoute;
use super::extract::{Caller, Check, IdParam, Valid};
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::reply::CardView;
use allweather_domain::values::Year;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use schemars::JsonSchema;
use serde::Deserialize;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/cards/{member_id}", member_card)
            .signed_in()
            .summary("A member's dual card of a year as both sides recorded it: the community side's quarterly feedback, stars and opinion, and the unit side's opinion, each with who signed and in which capacity (read from the log)")
            .access("the member, the secretaries and deputies of the member's branches, committee admins and auditors")
            .path_param::<uuid::Uuid>("member_id", "the member")
            .query::<CardQuery>()
            .answers::<CardView>(),
    ]
}

/// Which card.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CardQuery {
    /// The programme year.
    year: Year,
}

impl Check for CardQuery {}

/// A member's card of a year, for those the domain lets read it: the unit side reads
/// what the community side recorded before it signs.
async fn member_card(
    State(state): State<AppState>,
    Caller(principal): Caller,
    IdParam(member_id): IdParam,
    Valid(q): Valid<CardQuery>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let card = state.commands.card(&principal, member_id, q.year).await?;
    // What one person wrote of another: no cache on the way may keep it.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(card)))
}
