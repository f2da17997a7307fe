//! What changes on a page while it is open: `/live/wishes` tells a signed-in page, as
//! Server-Sent Events, the position of every new event of a wish (nothing else: no title,
//! no person), and `/live/open-wishes?min_position=P` answers the open wishes' ids once the
//! wish board has applied `P`. The page's script drops from its open list what is no
//! longer open, within a second of the claim, for everyone. The stream ends when the
//! session does (signed out, disabled) or the service stops.

use super::SignedIn;
use crate::AppState;
use crate::problem::ApiError;
use allweather_command::auth::REVOCATIONS_RELOAD;
use allweather_projections::wishes;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/live/wishes", get(wish_changes))
        .route("/live/open-wishes", get(open_wishes))
}

async fn wish_changes(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Sse<impl futures::Stream<Item = Result<SseEvent, std::convert::Infallible>>>, ApiError>
{
    let log = state.commands.log().clone();
    let after = log.head().await?.position;
    let stopped = state.stopping.clone().cancelled_owned();
    let (commands, secret) = (state.commands.clone(), signed_in.secret);
    let ended = async move {
        loop {
            tokio::time::sleep(REVOCATIONS_RELOAD).await;
            if !matches!(commands.session(&secret).await, Ok(Some(_))) {
                return;
            }
        }
    };
    let stream = log
        .tail(after)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(|r| {
            std::future::ready(
                r.ok()
                    .filter(|e| e.stream_id.aggregate() == "wish")
                    .map(|e| {
                        Ok(SseEvent::default()
                            .event("wish")
                            .data(e.position.to_string()))
                    }),
            )
        })
        .take_until(Box::pin(async move {
            tokio::select! {
                () = stopped => {}
                () = ended => {}
            }
        }));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize)]
struct OpenQuery {
    min_position: Option<u64>,
}

async fn open_wishes(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Query(q): Query<OpenQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let progress = state.progress(wishes::NAME)?;
    crate::routes::reach(progress, q.min_position).await?;
    let open = wishes::board(state.read.pool(), Some("open"), 1000)
        .await
        .map_err(crate::routes::read_error)?;
    Ok(Json(open.into_iter().map(|w| w.wish_id).collect()))
}
