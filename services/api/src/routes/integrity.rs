//! `GET /api/v1/integrity/flags?year=`: suspicious service entries, with the events behind
//! each, for the committee and its auditors.

use super::QueryRoute;
use super::extract::{Caller, Valid};
use super::params::YearQuery;
use super::{reach, read_error};
use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::permissions::Read;
use allweather_domain::values::Year;
use allweather_projections::integrity;
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::Serialize;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/integrity/flags", integrity_flags)
            .signed_in()
            .summary("Suspicious service entries, each with the events behind it")
            .access("committee admins and auditors")
            .query::<YearQuery>()
            .answers::<Flags>(),
    ]
}

/// A year's integrity flags.
#[derive(Debug, Serialize, JsonSchema)]
struct Flags {
    /// The year.
    year: Year,
    /// The log position they reflect.
    position: u64,
    /// The flags.
    flags: Vec<Flag>,
}

/// Something that deserves a look.
#[derive(Debug, Serialize, JsonSchema)]
struct Flag {
    /// `over_8_hours_a_day`, `overlapping_entries`, `bulk_same_activity` or
    /// `verified_own_entry`.
    kind: &'static str,
    /// The member concerned; for look-alike entries, the one who entered them for others,
    /// or the activity many self-reported.
    subject: String,
    /// The date.
    date: String,
    /// What was seen.
    detail: String,
    /// Positions of the events behind it.
    evidence: Vec<i64>,
}

async fn integrity_flags(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Valid(q): Valid<YearQuery>,
) -> Result<Json<Flags>, ApiError> {
    state
        .commands
        .authorize(&principal, &Read::Oversight)
        .await?;
    let progress = state.progress(integrity::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let flags = integrity::flags(state.read.pool(), q.year.get())
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|f| Flag {
            kind: f.kind,
            subject: f.subject,
            date: f.date,
            detail: f.detail,
            evidence: f.evidence,
        })
        .collect();
    Ok(Json(Flags {
        year: q.year,
        position,
        flags,
    }))
}
