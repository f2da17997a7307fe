//! The value types of query parameters: each checks its range when read and states it in
//! its schema, so the OpenAPI document says exactly what the server refuses.

use super::extract::Check;
use allweather_domain::values::Year;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use std::borrow::Cow;

/// A whole number in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    /// The number.
    pub(crate) fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> TryFrom<i64> for Bounded<MIN, MAX> {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&n) {
            Ok(Bounded(n))
        } else {
            Err(format!("must be {MIN} to {MAX}, got {n}"))
        }
    }
}

impl<const MIN: i64, const MAX: i64> JsonSchema for Bounded<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Bounded_{MIN}_{MAX}").into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": MIN, "maximum": MAX})
    }
}

/// A quarter of the year, 1–4.
pub(crate) type Quarter = Bounded<1, 4>;

/// A month, 1–12.
pub(crate) type Month = Bounded<1, 12>;

/// How many entries a page holds: 1 to `MAX`, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub(crate) struct Limit<const DEFAULT: u32, const MAX: u32>(u32);

impl<const DEFAULT: u32, const MAX: u32> Limit<DEFAULT, MAX> {
    /// The number.
    pub(crate) fn get(self) -> u32 {
        self.0
    }
}

impl<const DEFAULT: u32, const MAX: u32> Default for Limit<DEFAULT, MAX> {
    fn default() -> Self {
        Limit(DEFAULT)
    }
}

impl<const DEFAULT: u32, const MAX: u32> TryFrom<i64> for Limit<DEFAULT, MAX> {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX).contains(n))
            .map(Limit)
            .ok_or_else(|| format!("must be 1 to {MAX}, got {n}"))
    }
}

impl<const DEFAULT: u32, const MAX: u32> JsonSchema for Limit<DEFAULT, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Limit_{DEFAULT}_{MAX}").into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": MAX, "default": DEFAULT})
    }
}

/// A wish's status on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WishStatus {
    /// Waiting for a volunteer.
    Open,
    /// Every place taken.
    Claimed,
    /// Delivered, waiting for confirmation.
    Fulfilled,
    /// Confirmed by its publisher.
    Confirmed,
    /// Withdrawn.
    Cancelled,
}

impl WishStatus {
    /// As the read model stores it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WishStatus::Open => "open",
            WishStatus::Claimed => "claimed",
            WishStatus::Fulfilled => "fulfilled",
            WishStatus::Confirmed => "confirmed",
            WishStatus::Cancelled => "cancelled",
        }
    }
}

/// A year's read model.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct YearQuery {
    /// The programme year.
    pub(crate) year: Year,
    /// Answer once the read model has applied this position (a command's reply position),
    /// else 503 after 5 s.
    pub(crate) min_position: Option<u64>,
}

impl Check for YearQuery {}
