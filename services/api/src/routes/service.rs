//! The service itself: the dashboard page, `/healthz`, `/metrics`, and the published
//! contract (the OpenAPI document, the schemas of events and commands).
//!
//! The dashboard (`dashboard.html`) is one page with no build step and no external
//! assets: the branch ranking, the volunteer leaderboard (as its visibility allows), the
//! wish board and the median time to claim, a member's assessment with the positions
//! behind each criterion, and the integrity flags; Chinese first, English by a switch,
//! one column on a phone. It stays live by following `/api/v1/events` through `fetch`,
//! so the token travels in the `Authorization` header (never in a URL), resumes with
//! `Last-Event-ID`, and refreshes each panel with `min_position` set to the event that
//! woke it. The token is pasted once or given in the fragment (`/#token=…`, never sent
//! to the server) and kept in the browser's local storage.

use super::QueryRoute;
use crate::AppState;
use crate::problem::ApiError;
use allweather_events::Hash;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Serialize;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/", dashboard)
            .summary("The live dashboard (Chinese, with an English switch)")
            .content("text/html"),
        QueryRoute::get("/healthz", healthz)
            .summary(
                "Whether the service is up: the log's head position and hash, the county's date",
            )
            .answers::<Health>(),
        QueryRoute::get("/metrics", metrics).summary("Prometheus metrics"),
        QueryRoute::get("/api/v1/openapi.json", crate::openapi::document)
            .summary("This document")
            .answers::<serde_json::Map<String, serde_json::Value>>(),
        QueryRoute::get("/api/v1/schemas", crate::openapi::schemas)
            .summary("The JSON Schema of every event type's payload and every command's body")
            .answers::<crate::openapi::Schemas>(),
    ]
}

/// The dashboard page.
const DASHBOARD: &str = include_str!("../dashboard.html");

/// The live dashboard: one page, Chinese first, English by a switch.
async fn dashboard() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DASHBOARD,
    )
}

/// The content security policy of every answer: nothing from elsewhere, no frames, and
/// of scripts only the dashboard's own (by its hash), so text that slipped into a page
/// cannot run. Styles may be inline: the dashboard sizes its bars with `style`.
pub(super) fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let script = DASHBOARD
        .split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map_or("", |(script, _)| script);
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
    format!(
        "default-src 'none'; script-src 'self' 'sha256-{hash}'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Whether the service is up.
#[derive(Debug, Serialize, JsonSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The log's head position.
    position: u64,
    /// The hash of the event at the head (hex).
    head_hash: Hash,
    /// Today in the county's calendar.
    county_date: NaiveDate,
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let head = state.commands.log().head().await?;
    let county_date = state
        .commands
        .now()
        .to_datetime()
        .with_timezone(&state.commands.options().county_offset)
        .date_naive();
    Ok(Json(Health {
        status: "ok",
        position: head.position,
        head_hash: head.hash,
        county_date,
    }))
}

/// The Prometheus text exposition.
async fn metrics(
    State(state): State<AppState>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let head = state.commands.log().head().await?.position;
    let text = state.metrics.render(head, &state.progress).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
