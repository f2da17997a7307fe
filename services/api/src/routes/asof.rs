//! The year's judgement, live or as of the past: the scorecard a query reads (the live
//! read model once it has applied `min_position`, or one replayed from the log up to a
//! position or the end of a county day, see [`crate::replays`]), and the rules the year is
//! judged by.

use super::{reach, read_error};
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::auth::AuthError;
use allweather_domain::Principal;
use allweather_domain::rules::Rules;
use allweather_domain::values::Year;
use allweather_events::Timestamp;
use allweather_projections::ReadStore;
use allweather_projections::assessment::Measure;
use allweather_projections::scorecard::{self, AsOf};
use chrono::{NaiveDate, TimeZone as _};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use std::borrow::Cow;
use std::num::NonZeroU64;

/// When a judgement is read: live (after `min_position`), or as of the past.
#[derive(Debug, Clone, Copy)]
pub(crate) struct When {
    pub(crate) min_position: Option<u64>,
    pub(crate) as_of_position: Option<NonZeroU64>,
    pub(crate) as_of: Option<NaiveDate>,
}

/// The parameters that name the past a judgement is read as of: one or the other.
pub(super) const AS_OF: (&str, &str) = ("as_of", "as_of_position");

/// The scorecard a query reads, and the position it reflects. A replay of the past is
/// for signed-in callers only, one at a time each ([`crate::replays`]): the anonymous
/// read the rankings live.
pub(super) async fn scorecard_for(
    state: &AppState,
    when: When,
    caller: Option<&Principal>,
) -> Result<(ReadStore, u64), ApiError> {
    let as_of = match (when.as_of_position, when.as_of) {
        (Some(p), _) => AsOf::Position(p.get()),
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
            reach(progress, when.min_position).await?;
            return Ok((state.read.clone(), progress.position()));
        }
    };
    let Some(caller) = caller else {
        return Err(AuthError::Missing.into());
    };
    let head = state.commands.log().head().await?.position;
    if let AsOf::Position(p) = as_of
        && p > head
    {
        return Err(ApiError::not_found(format!(
            "as_of_position {p}: the log ends at position {head}"
        )));
    }
    state
        .replays
        .scorecard(state.commands.log(), as_of, head, &caller.subject)
        .await
}

/// The rules `year` is judged by, as of the scorecard read.
pub(super) async fn rules_of(store: &ReadStore, year: Year) -> Result<Rules, ApiError> {
    scorecard::rules(store.pool(), year.get())
        .await
        .map_err(read_error)?
        .ok_or_else(|| ApiError::not_found(format!("no rules were adopted for {year}")))
}

/// A criterion's measure as a number: hundredths (points, hours) with two decimals, a
/// count, or a share as a fraction.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct Number(serde_json::Value);

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Measure> for Number {
    fn from(measure: Measure) -> Number {
        Number(measure.to_json())
    }
}

impl JsonSchema for Number {
    fn schema_name() -> Cow<'static, str> {
        "Number".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "number"})
    }
}
