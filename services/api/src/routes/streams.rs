//! `GET /api/v1/streams/{stream_id}`: a stream's events with their full envelopes.

use super::QueryRoute;
use super::extract::{Caller, Check, Valid};
use super::params::Limit;
use crate::AppState;
use crate::problem::ApiError;
use allweather_domain::permissions::Read;
use allweather_domain::personal;
use allweather_events::{EventView, StreamId};
use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/streams/{stream_id}", stream)
            .signed_in()
            .summary("A stream's events with their full envelopes, oldest first")
            .access("committee admins, auditors, and a member for the streams that concern them")
            .path_param::<StreamId>("stream_id", "{aggregate}-{id}")
            .query::<StreamQuery>()
            .answers::<StreamPage>(),
    ]
}

/// Which events of the stream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    /// The first stream version to return (1 when not given).
    #[schemars(range(min = 1))]
    from_version: Option<u64>,
    /// At most this many events.
    #[serde(default)]
    limit: Limit<1_000, 10_000>,
}

impl Check for StreamQuery {}

/// A page of a stream.
#[derive(Debug, Serialize, JsonSchema)]
struct StreamPage {
    /// The stream.
    stream_id: String,
    /// Its version now (its last event's).
    version: u64,
    /// Its events from `from_version`, oldest first.
    events: Vec<EventView>,
}

async fn stream(
    State(state): State<AppState>,
    Path(stream_id): Path<String>,
    Caller(principal): Caller,
    Valid(query): Valid<StreamQuery>,
) -> Result<Json<StreamPage>, ApiError> {
    let stream_id =
        StreamId::parse(stream_id).map_err(|e| ApiError::field("stream_id", e.to_string()))?;
    state
        .commands
        .authorize(&principal, &Read::Stream(stream_id.clone()))
        .await?;
    let from_version = query.from_version.unwrap_or(1).max(1);
    let version = state.commands.log().stream_version(&stream_id).await?;
    if version == 0 {
        return Err(ApiError::not_found(format!(
            "stream {stream_id} has no events"
        )));
    }
    let erased = erased(&state, &stream_id).await?;
    let events = state
        .commands
        .log()
        .read_stream(&stream_id, from_version, query.limit.get())
        .await?
        .iter()
        .map(|e| {
            let mut payload = state
                .commands
                .catalog()
                .decode(e)
                .map_err(|err| anyhow::Error::new(err).context("decode a stored event"))?;
            if erased {
                personal::hide_clear_text(&mut payload, personal::ERASED);
            }
            Ok(e.view(payload))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(StreamPage {
        stream_id: stream_id.as_str().to_owned(),
        version,
        events,
    }))
}

/// Whether the person in need a stream is about was erased: a household's stream is its
/// own; a wish's, its beneficiary's. What events of earlier releases wrote about them in
/// clear is then shown as erased, as their sealed text reads.
async fn erased(state: &AppState, stream: &StreamId) -> Result<bool, ApiError> {
    let person = match stream.aggregate() {
        "household" => stream.id().parse().ok(),
        "wish" => {
            let log = state.commands.log();
            let first = log.read_stream(stream, 1, 1).await?;
            first
                .first()
                .and_then(|e| state.commands.catalog().decode(e).ok())
                .and_then(|p| p["beneficiary"]["person_id"].as_str()?.parse().ok())
        }
        _ => None,
    };
    Ok(match person {
        Some(person) => {
            state.commands.log().person_key(person).await? == allweather_log::StoredKey::Erased
        }
        None => false,
    })
}
