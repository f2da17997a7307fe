//! `GET /api/v1/events`: every new event's envelope as Server-Sent Events.

use super::QueryRoute;
use super::extract::{Caller, Check, Valid};
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::auth::REVOCATIONS_RELOAD;
use allweather_domain::permissions::Read;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::StreamExt as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub(super) fn routes() -> Vec<QueryRoute> {
    vec![
        QueryRoute::get("/api/v1/events", events)
            .signed_in()
            .summary("Every new event's envelope as Server-Sent Events (id: = position); the beneficiary masked")
            .access("committee admins and auditors")
            .header("Last-Event-ID", "resume after this position", |_| {
                schemars::json_schema!({"type": "string", "pattern": "^[0-9]+$"})
            })
            .query::<EventsQuery>()
            .content("text/event-stream"),
    ]
}

/// Where the stream starts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// Start after this position (else after `Last-Event-ID`, else from now).
    after: Option<u64>,
}

impl Check for EventsQuery {}

/// Every new event's envelope as Server-Sent Events, `id:` = its position, from after
/// `Last-Event-ID` (or `?after=`), else from now. The beneficiary of a wish is masked.
async fn events(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Valid(q): Valid<EventsQuery>,
) -> Result<Sse<impl futures::Stream<Item = Result<SseEvent, std::convert::Infallible>>>, ApiError>
{
    // Every event of every stream passes here, personal data included: only the
    // committee and its auditors follow the whole log.
    state
        .commands
        .authorize(&principal, &Read::Oversight)
        .await?;
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
    // The token is looked at again while the stream lasts: once it is revoked or has
    // expired, the stream ends (the client reconnects, and is refused).
    let (tokens, presented) = (
        state.tokens.clone(),
        headers.get(axum::http::header::AUTHORIZATION).cloned(),
    );
    let withdrawn = async move {
        loop {
            tokio::time::sleep(REVOCATIONS_RELOAD).await;
            if !matches!(tokens.principal_of(presented.as_ref()), Ok(Some(_))) {
                return;
            }
        }
    };
    let client = SseClient::new(state.metrics.sse_clients.clone());
    let stream = log
        .tail(after)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| {
            // The stream owns the client's place in the gauge until it is dropped.
            let _open = &client;
            std::future::ready(r.ok().map(|e| Ok(sse_event(&catalog, &e))))
        })
        .take_until(Box::pin(async move {
            tokio::select! {
                () = stopped => {}
                () = withdrawn => {}
            }
        }));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One event for a live subscriber: its envelope, the payload in the current schema, a
/// wish's beneficiary and any free text about a person in need held in clear masked.
fn sse_event(catalog: &allweather_events::Catalog, e: &allweather_events::Envelope) -> SseEvent {
    let mut payload = catalog
        .decode(e)
        .unwrap_or_else(|_| e.payload.to_value().unwrap_or_default());
    if let Some(b) = payload.get_mut("beneficiary") {
        *b = Value::from("***");
    }
    // Free text about a person in need that an event of an earlier release holds in
    // clear, where events now hold it sealed.
    allweather_domain::personal::hide_clear_text(&mut payload, "***");
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
