//! The HTTP routes and their thin handlers.

use crate::AppState;
use crate::problem::ApiError;
use allweather_command::auth::AuthError;
use allweather_domain::Principal;
use allweather_domain::values::{Category, Visibility, stored_name};
use allweather_events::Role;
use allweather_events::StreamId;
use allweather_projections::Progress;
use allweather_projections::{integrity, leaderboard, wishes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// A query route: what the OpenAPI document says of it, and its handler. The router
/// and the document are built from this one list, so they cannot disagree.
pub(crate) struct QueryRoute {
    /// The path, with `{name}` for a path parameter.
    pub path: &'static str,
    /// What it answers.
    pub summary: &'static str,
    /// Who may ask.
    pub access: &'static str,
    /// Its parameters: name, where (`path`, `query`, `header`), required, meaning.
    pub params: &'static [(&'static str, &'static str, bool, &'static str)],
    /// What it answers with (`application/json`, `text/event-stream`, …).
    pub content: &'static str,
    handler: axum::routing::MethodRouter<AppState>,
}

const MIN_POSITION: (&str, &str, bool, &str) = (
    "min_position",
    "query",
    false,
    "answer once the read model has applied this position (a command's reply position), else 503 after 5 s",
);
const YEAR: (&str, &str, bool, &str) = ("year", "query", true, "the programme year, 2000-2100");
const AS_OF: [(&str, &str, bool, &str); 2] = [
    (
        "as_of_position",
        "query",
        false,
        "judge as the log stood at this position (replayed, one replay at a time; 503 when busy)",
    ),
    (
        "as_of",
        "query",
        false,
        "judge as the log stood at the end of this county day, YYYY-MM-DD (replayed, one replay at a time; 503 when busy)",
    ),
];

/// Every query route.
pub(crate) fn queries() -> Vec<QueryRoute> {
    let route = |path, summary, access, params, content, handler| QueryRoute {
        path,
        summary,
        access,
        params,
        content,
        handler,
    };
    const JSON: &str = "application/json";
    vec![
        route(
            "/",
            "The live dashboard (Chinese, with an English switch)",
            "anyone",
            &[],
            "text/html",
            get(dashboard),
        ),
        route(
            "/healthz",
            "Whether the service is up: the log's head position and hash, the county's date",
            "anyone",
            &[],
            JSON,
            get(healthz),
        ),
        route(
            "/metrics",
            "Prometheus metrics",
            "anyone",
            &[],
            "text/plain",
            get(metrics),
        ),
        route(
            "/api/v1/openapi.json",
            "This document",
            "anyone",
            &[],
            JSON,
            get(crate::openapi::document),
        ),
        route(
            "/api/v1/schemas",
            "The JSON Schema of every event type's payload and every command's body",
            "anyone",
            &[],
            JSON,
            get(crate::openapi::schemas),
        ),
        route(
            "/api/v1/streams/{stream_id}",
            "A stream's events with their full envelopes, oldest first",
            "committee admins, auditors, and a member for the streams that concern them",
            &[
                ("stream_id", "path", true, "{aggregate}-{id}"),
                ("from_version", "query", false, "first stream version"),
                ("limit", "query", false, "at most this many events, 1-10000"),
            ],
            JSON,
            get(stream),
        ),
        route(
            "/api/v1/leaderboards/volunteers",
            "Verified hours and points by member, ranked; ties by member id",
            "as the year's rules say: public, members only (any token), or off (committee and auditors)",
            &[
                YEAR,
                ("quarter", "query", false, "1-4"),
                ("month", "query", false, "1-12"),
                ("category", "query", false, "a category"),
                ("branch_id", "query", false, "members of this branch"),
                ("limit", "query", false, "1-1000"),
                MIN_POSITION,
            ],
            JSON,
            get(volunteers),
        ),
        route(
            "/api/v1/rankings/branches",
            "Branches ranked by the year's weighted score, with every criterion",
            "anyone",
            &[
                YEAR,
                ("kind", "query", false, "unit, service or temporary"),
                MIN_POSITION,
                AS_OF[0],
                AS_OF[1],
            ],
            JSON,
            get(crate::judgement::branch_rankings),
        ),
        route(
            "/api/v1/assessments/{member_id}",
            "A member's assessment: each criterion with its value, requirement, verdict and evidence (log positions); the card's two opinions and stars and the standing appraisal, as people recorded them; and every disagreement between a recorded judgement and the evidence. Never a rating of the system's own",
            "committee admins, auditors, the member, and the secretaries of the member's branches",
            &[
                ("member_id", "path", true, "the member"),
                YEAR,
                MIN_POSITION,
                AS_OF[0],
                AS_OF[1],
            ],
            JSON,
            get(crate::judgement::member_assessment),
        ),
        route(
            "/api/v1/figures",
            "The figures the county reports, each with the log positions behind it: members registered; person-times of service (人次: verified entries and activity attendances) in the county and by branch; participants per campaign; 三九 households visited; concerns by category, raised, resolved and open; anniversaries kept and due, meetings and activities against what each kind must hold, by branch",
            "any signed-in role",
            &[
                YEAR,
                ("quarter", "query", false, "1-4"),
                ("month", "query", false, "1-12"),
                MIN_POSITION,
                AS_OF[0],
                AS_OF[1],
            ],
            JSON,
            get(crate::judgement::county_figures),
        ),
        route(
            "/api/v1/cards/{member_id}",
            "A member's dual card of a year as both sides recorded it: the community side's quarterly feedback, stars and opinion, and the unit side's opinion, each with who signed and in which capacity (read from the log)",
            "the member, the secretaries and deputies of the member's branches, committee admins and auditors",
            &[("member_id", "path", true, "the member"), YEAR],
            JSON,
            get(member_card),
        ),
        route(
            "/api/v1/wishes",
            "The wish board, newest first; never the beneficiary",
            "anyone",
            &[
                (
                    "status",
                    "query",
                    false,
                    "open, claimed, fulfilled, confirmed or cancelled",
                ),
                ("limit", "query", false, "1-1000"),
                MIN_POSITION,
            ],
            JSON,
            get(wish_board),
        ),
        route(
            "/api/v1/wishes/{wish_id}/beneficiary",
            "The name and contact of a wish's beneficiary, to deliver it; a placeholder once the person is erased",
            "the wish's publisher, the service centre, and while it is claimed or fulfilled its claimer and the secretaries of the claimer's branches",
            &[("wish_id", "path", true, "the wish")],
            JSON,
            get(wish_beneficiary),
        ),
        route(
            "/api/v1/wishes/timings",
            "Time to claim and to fulfil (count, median, 90th percentile) by category and month of publication",
            "anyone",
            &[YEAR, MIN_POSITION],
            JSON,
            get(wish_timings),
        ),
        route(
            "/api/v1/integrity/flags",
            "Suspicious service entries, each with the events behind it",
            "committee admins and auditors",
            &[YEAR, MIN_POSITION],
            JSON,
            get(integrity_flags),
        ),
        route(
            "/api/v1/events",
            "Every new event's envelope as Server-Sent Events (id: = position); the beneficiary masked",
            "committee admins and auditors",
            &[
                (
                    "Last-Event-ID",
                    "header",
                    false,
                    "resume after this position",
                ),
                ("after", "query", false, "start after this position"),
            ],
            "text/event-stream",
            get(events),
        ),
    ]
}

pub(crate) fn router(state: AppState) -> Router {
    queries()
        .into_iter()
        .fold(Router::new(), |router, q| router.route(q.path, q.handler))
        .merge(allweather_command::http::router(
            state.commands.clone(),
            state.tokens.clone(),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The live dashboard: one page, Chinese first, English by a switch.
async fn dashboard() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("dashboard.html"),
    )
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let head = state.commands.log().head().await?;
    let county_date = state
        .commands
        .now()
        .to_datetime()
        .with_timezone(&state.commands.options().county_offset)
        .date_naive();
    Ok(Json(json!({
        "status": "ok", "position": head.position, "head_hash": head.hash,
        "county_date": county_date,
    })))
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
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let stream_id =
        StreamId::parse(stream_id).map_err(|e| ApiError::field("stream_id", e.to_string()))?;
    if !may_read(&state, &principal, &stream_id).await? {
        return Err(ApiError::forbidden(format!(
            "stream {stream_id} is readable by committee admins, auditors and the member it concerns"
        )));
    }
    let from_version = query.from_version.unwrap_or(1).max(1);
    let limit = query.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field("limit", format!("must be 1 to {MAX_PAGE}")));
    }
    let version = state.commands.log().stream_version(&stream_id).await?;
    if version == 0 {
        return Err(ApiError::not_found(format!(
            "stream {stream_id} has no events"
        )));
    }
    let events = state
        .commands
        .log()
        .read_stream(&stream_id, from_version, limit)
        .await?;
    let events = events
        .iter()
        .map(|e| {
            let payload = state
                .commands
                .catalog()
                .decode(e)
                .map_err(|err| anyhow::Error::new(err).context("decode a stored event"))?;
            Ok(e.to_json(payload))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(
        json!({ "stream_id": stream_id, "version": version, "events": events }),
    ))
}

/// Whether `principal` may read `stream`: committee admins and auditors read every
/// stream; a member reads the streams that concern them (their member stream, cards,
/// claims, days and service records); nobody else reads raw events, which carry personal
/// data (a wish's beneficiary).
async fn may_read(
    state: &AppState,
    principal: &Principal,
    stream: &StreamId,
) -> Result<bool, ApiError> {
    let member = match (principal.role, principal.member_id) {
        (Role::CommitteeAdmin | Role::Auditor, _) => return Ok(true),
        // A secretary's token names their member: their own streams are theirs too.
        (Role::Member | Role::Secretary, Some(m)) => m.to_string(),
        _ => return Ok(false),
    };
    Ok(match stream.aggregate() {
        "member" | "claims" => stream.id() == member,
        "dualcard" | "serviceday" => stream.id().starts_with(&format!("{member}-")),
        "servicerecord" => {
            let first = state.commands.log().read_stream(stream, 1, 1).await?;
            first
                .first()
                .and_then(|e| state.commands.catalog().decode(e).ok())
                .is_some_and(|p| p["member_id"].as_str() == Some(member.as_str()))
        }
        _ => false,
    })
}

/// Longest a query waits for its read model to reach `min_position`.
const MIN_POSITION_WAIT: Duration = Duration::from_secs(5);

/// Most entries one board returns.
const MAX_ENTRIES: u32 = 1_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardQuery {
    year: i32,
    quarter: Option<u32>,
    month: Option<u32>,
    category: Option<Category>,
    branch_id: Option<Uuid>,
    limit: Option<u32>,
    min_position: Option<u64>,
}

/// Waits until `progress` has applied `min_position`, or answers 503.
pub(crate) async fn reach(progress: &Progress, min_position: Option<u64>) -> Result<(), ApiError> {
    match min_position {
        Some(p) if !progress.reached(p, MIN_POSITION_WAIT).await => {
            Err(ApiError::unavailable(format!(
                "the read model has applied position {} and did not reach {p} in time; retry",
                progress.position()
            )))
        }
        _ => Ok(()),
    }
}

async fn volunteers(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<BoardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::field("year", "must be 2000 to 2100"));
    }
    if q.quarter.is_some() && q.month.is_some() {
        return Err(ApiError::field(
            "month",
            "give a quarter or a month, not both",
        ));
    }
    if q.quarter.is_some_and(|x| !(1..=4).contains(&x)) {
        return Err(ApiError::field("quarter", "must be 1 to 4"));
    }
    if q.month.is_some_and(|x| !(1..=12).contains(&x)) {
        return Err(ApiError::field("month", "must be 1 to 12"));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_ENTRIES {
        return Err(ApiError::field(
            "limit",
            format!("must be 1 to {MAX_ENTRIES}"),
        ));
    }
    let progress = state.progress(leaderboard::NAME)?;
    reach(progress, q.min_position).await?;
    // Who may look is the year's rules' (as far as the model has applied them): anyone,
    // members (any valid token), or only the committee and its auditors.
    let pool = state.read.pool();
    let visibility = leaderboard::visibility(pool, q.year)
        .await
        .map_err(read_error)?;
    let principal = state
        .tokens
        .principal_of(headers.get(header::AUTHORIZATION))?;
    match (visibility, principal.as_ref().map(|p| p.role)) {
        (Visibility::Public, _) | (Visibility::MembersOnly, Some(_)) => {}
        (Visibility::Off, Some(Role::CommitteeAdmin | Role::Auditor)) => {}
        (Visibility::MembersOnly, None) => return Err(AuthError::Missing.into()),
        (Visibility::Off, _) => {
            return Err(ApiError::forbidden(format!(
                "the {} volunteer leaderboards are off by that year's rules",
                q.year
            )));
        }
    }
    let position = progress.position();
    let filter = leaderboard::Filter {
        year: q.year,
        quarter: q.quarter,
        month: q.month,
        category: q.category.map(|c| stored_name(&c)),
        branch_id: q.branch_id.map(|b| b.to_string()),
        limit,
    };
    let entries: Vec<Value> = leaderboard::board(pool, &filter)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|e| {
            json!({
                "rank": e.rank, "member_id": e.member_id, "name": e.name,
                "hours": e.minutes as f64 / 60.0, "minutes": e.minutes,
                "points": e.points_hundredths as f64 / 100.0, "points_hundredths": e.points_hundredths,
            })
        })
        .collect();
    Ok(Json(
        json!({ "year": q.year, "position": position, "visibility": visibility, "entries": entries }),
    ))
}

pub(crate) fn read_error(e: sqlx::Error) -> ApiError {
    ApiError::from(anyhow::Error::new(e).context("query a read model"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WishQuery {
    status: Option<String>,
    limit: Option<u32>,
    min_position: Option<u64>,
}

/// Who a wish is for, for those who deliver it (read from the log and opened with the
/// person's key: no read model holds personal details in clear).
async fn wish_beneficiary(
    State(state): State<AppState>,
    Path(wish_id): Path<String>,
    headers: HeaderMap,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    let wish_id: uuid::Uuid = wish_id
        .parse()
        .map_err(|_| ApiError::field("wish_id", "must be a UUID"))?;
    let details = state.commands.beneficiary(&principal, wish_id).await?;
    // Personal details: no cache on the way may keep them.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(details)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardQuery {
    year: i32,
}

/// A member's card of a year, for those the domain lets read it: the unit side reads
/// what the community side recorded before it signs.
async fn member_card(
    State(state): State<AppState>,
    Path(member_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<CardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    let member_id: uuid::Uuid = member_id
        .parse()
        .map_err(|_| ApiError::field("member_id", "must be a UUID"))?;
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::field("year", "must be 2000 to 2100"));
    }
    let card = state.commands.card(&principal, member_id, q.year).await?;
    // What one person wrote of another: no cache on the way may keep it.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(card)))
}

/// The wish board: public, with the beneficiary never shown.
async fn wish_board(
    State(state): State<AppState>,
    query: Result<Query<WishQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    const STATUSES: [&str; 5] = ["open", "claimed", "fulfilled", "confirmed", "cancelled"];
    if let Some(s) = q.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::field(
            "status",
            format!("{s:?} is not one of {}", STATUSES.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_ENTRIES {
        return Err(ApiError::field(
            "limit",
            format!("must be 1 to {MAX_ENTRIES}"),
        ));
    }
    let progress = state.progress(wishes::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let lines: Vec<Value> = wishes::board(state.read.pool(), q.status.as_deref(), limit)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|w| {
            let at = |us: i64| allweather_events::Timestamp::from_micros(us).to_string();
            json!({
                "wish_id": w.wish_id, "title": w.title, "category": w.category, "status": w.status,
                "claimed_by": w.claimed_by, "volunteers": w.volunteers, "taken": w.taken,
                "published_at": at(w.published_at_us),
                "claimed_at": w.claimed_at_us.map(at),
            })
        })
        .collect();
    Ok(Json(json!({ "position": position, "wishes": lines })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingQuery {
    year: i32,
    min_position: Option<u64>,
}

/// Time to claim and to fulfil, by category and month.
async fn wish_timings(
    State(state): State<AppState>,
    query: Result<Query<TimingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::field("year", "must be 2000 to 2100"));
    }
    let progress = state.progress(wishes::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let distribution = |d: wishes::Distribution| json!({ "count": d.count, "median_minutes": d.median_minutes, "p90_minutes": d.p90_minutes });
    let timings: Vec<Value> = wishes::timings(state.read.pool(), q.year)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|t| {
            json!({
                "category": t.category, "month": t.month,
                "to_claim": distribution(t.to_claim), "to_fulfil": distribution(t.to_fulfil),
            })
        })
        .collect();
    Ok(Json(
        json!({ "year": q.year, "position": position, "timings": timings }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<u64>,
}

/// Every new event's envelope as Server-Sent Events, `id:` = its position, from after
/// `Last-Event-ID` (or `?after=`), else from now. For any valid token; the beneficiary
/// of a wish is masked.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl futures::Stream<Item = Result<SseEvent, std::convert::Infallible>>>, ApiError>
{
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    // Every event of every stream passes here, personal data included: only the
    // committee and its auditors follow the whole log.
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    if !matches!(principal.role, Role::CommitteeAdmin | Role::Auditor) {
        return Err(ApiError::forbidden(
            "the live event stream is for committee admins and auditors",
        ));
    }
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::field("Last-Event-ID", "must be a position (a whole number)")
                })?,
        ),
        None => None,
    };
    let log = state.commands.log().clone();
    let after = match resume.or(q.after) {
        Some(after) => after,
        None => log.head().await?.position,
    };
    let catalog = state.commands.catalog().clone();
    let stopped = state.stopping.clone().cancelled_owned();
    let client = SseClient::new(state.metrics.sse_clients.clone());
    let stream = log
        .tail(after)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| {
            // The stream owns the client's place in the gauge until it is dropped.
            let _open = &client;
            std::future::ready(r.ok().map(|e| Ok(sse_event(&catalog, &e))))
        })
        .take_until(Box::pin(stopped));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One event for a live subscriber: its envelope, the payload in the current schema, a
/// wish's beneficiary masked.
fn sse_event(catalog: &allweather_events::Catalog, e: &allweather_events::Envelope) -> SseEvent {
    let mut payload = catalog
        .decode(e)
        .unwrap_or_else(|_| e.payload.to_value().unwrap_or_default());
    if let Some(b) = payload.get_mut("beneficiary") {
        *b = Value::from("***");
    }
    SseEvent::default()
        .id(e.position.to_string())
        .event(e.event_type.clone())
        .data(e.to_json(payload).to_string())
}

/// One open event stream, counted in the gauge while it lives.
struct SseClient(prometheus::IntGauge);

impl SseClient {
    fn new(gauge: prometheus::IntGauge) -> SseClient {
        gauge.inc();
        SseClient(gauge)
    }
}

impl Drop for SseClient {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The Prometheus text exposition.
async fn metrics(
    State(state): State<AppState>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let head = state.commands.log().head().await?.position;
    let text = state.metrics.render(head, &state.progress).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// The integrity flags of a year, with the events behind each: for the committee and
/// its auditors.
async fn integrity_flags(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<TimingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let principal = state.tokens.require(headers.get(header::AUTHORIZATION))?;
    if !matches!(principal.role, Role::CommitteeAdmin | Role::Auditor) {
        return Err(ApiError::forbidden(
            "integrity flags are for committee admins and auditors",
        ));
    }
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    if !(2000..=2100).contains(&q.year) {
        return Err(ApiError::field("year", "must be 2000 to 2100"));
    }
    let progress = state.progress(integrity::NAME)?;
    reach(progress, q.min_position).await?;
    let position = progress.position();
    let flags: Vec<Value> = integrity::flags(state.read.pool(), q.year)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|f| {
            json!({
                "kind": f.kind, "subject": f.subject, "date": f.date,
                "detail": f.detail, "evidence": f.evidence,
            })
        })
        .collect();
    Ok(Json(
        json!({ "year": q.year, "position": position, "flags": flags }),
    ))
}
