//! The HTTP routes and their thin handlers.

use crate::probe::Ping;
use crate::problem::ApiError;
use crate::{AppState, MAX_BODY_BYTES};
use allweather_events::{StreamId, Timestamp};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/streams/{stream_id}", get(stream))
        .route("/api/v1/commands/{name}", post(command))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let head = state.log.head().await?;
    Ok(Json(
        json!({ "status": "ok", "position": head.position, "head_hash": head.hash }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    from_version: Option<u64>,
    limit: Option<u32>,
}

/// Most events one page of a stream returns.
const MAX_PAGE: u32 = 10_000;

async fn stream(
    State(state): State<AppState>,
    Path(stream_id): Path<String>,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let stream_id =
        StreamId::parse(stream_id).map_err(|e| ApiError::field("stream_id", e.to_string()))?;
    let from_version = query.from_version.unwrap_or(1).max(1);
    let limit = query.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field("limit", format!("must be 1 to {MAX_PAGE}")));
    }
    let version = state.log.stream_version(&stream_id).await?;
    if version == 0 {
        return Err(ApiError::NotFound(format!(
            "stream {stream_id} has no events"
        )));
    }
    let events = state
        .log
        .read_stream(&stream_id, from_version, limit)
        .await?;
    let events = events
        .iter()
        .map(|e| {
            let payload = state
                .catalog
                .decode(e)
                .map_err(|err| anyhow::Error::new(err).context("decode a stored event"))?;
            Ok(e.to_json(payload))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(
        json!({ "stream_id": stream_id, "version": version, "events": events }),
    ))
}

/// Reads a JSON body into `T`, naming the field at fault when it cannot.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            // `.` is the whole body; `?` is a syntax error before any field.
            p if p == "." || p == "?" => "body".to_string(),
            p => p,
        };
        ApiError::field(field, e.inner().to_string())
    })
}

/// The command id: the `Idempotency-Key` header (a UUID, or any other key of 1–200
/// visible ASCII characters, mapped to a UUID v5), or a new UUID v7.
fn command_id(headers: &HeaderMap) -> Result<Uuid, ApiError> {
    let Some(key) = headers.get("idempotency-key") else {
        return Ok(Uuid::now_v7());
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1 to 200 visible ASCII characters",
            )
        })?;
    Ok(Uuid::parse_str(key)
        .unwrap_or_else(|_| Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, key.as_bytes())))
}

/// Namespace of the UUID v5 ids derived from idempotency keys that are not UUIDs.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6177_6964_656d_7000_8000_0000_0000_0001);

async fn command(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        },
        _ => ApiError::field("body", e.body_text()),
    })?;
    let command_id = command_id(&headers)?;
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let (id, request) = match name.as_str() {
        "Ping" => parse::<Ping>(&body)?.into_append(command_id, now)?,
        other => {
            return Err(ApiError::NotFound(format!(
                "there is no command named {other:?}"
            )));
        }
    };
    let outcome = state.log.append(request).await?;
    let events: Vec<Value> = outcome
        .events
        .iter()
        .map(|e| {
            json!({
                "event_id": e.event_id, "event_type": e.event_type, "stream_id": e.stream_id,
                "stream_version": e.stream_version, "position": e.position,
            })
        })
        .collect();
    Ok(Json(json!({
        "command_id": outcome.command_id, "position": outcome.position(), "id": id, "events": events,
    })))
}
