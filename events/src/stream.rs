//! Stream ids: `{aggregate}-{id}`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 200;

/// The name of one stream of the log: `{aggregate}-{id}`, where `aggregate` is a
/// lowercase word (`wish`, `dualcard`) and `id` is the aggregate's id (a UUID, or for a
/// dual card `{member}-{year}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

/// Why a text is not a stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed stream id {value:?}: {reason}")]
pub struct MalformedStreamId {
    /// The text that was given (cut to 80 characters).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl StreamId {
    /// Checks and wraps a stream id.
    pub fn parse(value: impl Into<String>) -> Result<Self, MalformedStreamId> {
        let value = value.into();
        let fail = |reason| MalformedStreamId {
            value: value.chars().take(80).collect(),
            reason,
        };
        if value.len() > MAX_STREAM_ID_LEN {
            return Err(fail("longer than 200 bytes"));
        }
        let Some((aggregate, id)) = value.split_once('-') else {
            return Err(fail("expected `{aggregate}-{id}`"));
        };
        if aggregate.is_empty() || !aggregate.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(fail("the aggregate must be lowercase letters a-z"));
        }
        if id.is_empty() {
            return Err(fail("the id after `-` is empty"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(fail(
                "the id may hold only ASCII letters, digits, `-` and `_`",
            ));
        }
        Ok(Self(value))
    }

    /// The aggregate part, before the first `-`.
    pub fn aggregate(&self) -> &str {
        self.0.split_once('-').map_or("", |(a, _)| a)
    }

    /// The id part, after the first `-`.
    pub fn id(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, id)| id)
    }

    /// The whole id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = MalformedStreamId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<StreamId> for String {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

impl schemars::JsonSchema for StreamId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StreamId".into()
    }

    fn inline_schema() -> bool {
        true
    }

    /// What [`StreamId::parse`] accepts.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": MAX_STREAM_ID_LEN,
            "pattern": "^[a-z]+-[A-Za-z0-9_-]+$",
            "description": "{aggregate}-{id}",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_split_into_aggregate_and_id() {
        let id = StreamId::parse("dualcard-0190c1d2-0000-7000-8000-000000000001-2026").unwrap();
        assert_eq!(id.aggregate(), "dualcard");
        assert_eq!(id.id(), "0190c1d2-0000-7000-8000-000000000001-2026");
    }

    #[test]
    fn malformed_ids_name_what_is_wrong() {
        let cases = [
            ("", "expected `{aggregate}-{id}`"),
            ("wish", "expected `{aggregate}-{id}`"),
            ("-abc", "the aggregate must be lowercase letters a-z"),
            ("Wish-abc", "the aggregate must be lowercase letters a-z"),
            ("wish-", "the id after `-` is empty"),
            (
                "wish-a b",
                "the id may hold only ASCII letters, digits, `-` and `_`",
            ),
            (
                "wish-a/../b",
                "the id may hold only ASCII letters, digits, `-` and `_`",
            ),
            (
                "wish-é",
                "the id may hold only ASCII letters, digits, `-` and `_`",
            ),
        ];
        for (text, reason) in cases {
            let err = StreamId::parse(text).expect_err(text);
            assert_eq!(err.reason, reason, "case {text:?}");
        }
        let long = format!("wish-{}", "a".repeat(MAX_STREAM_ID_LEN));
        assert_eq!(
            StreamId::parse(long).unwrap_err().reason,
            "longer than 200 bytes"
        );
    }
}
