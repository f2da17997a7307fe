//! The service centre's page, `/centre`: publish a micro-wish or a service need (the
//! person's name and contact go into the command, which seals them; the page never shows
//! them), follow every wish to its confirmation (confirm what was fulfilled, withdraw what
//! cannot be), and the households in need: register one, pair a leading cadre with it,
//! its visits, and its concerns raised and resolved. Every form is a command (`/act`).
//! Opened by the service centre and the committee (who may do the same); others are
//! refused.

use super::text::Text;
use super::{Notice, PageLang, SignedIn, form_key, page};
use crate::AppState;
use allweather_events::Role;
use allweather_projections::{scorecard, wishes};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/centre", get(centre_page))
}

/// How many wishes the page follows, newest first.
const FOLLOWED: u32 = 500;

/// A wish's line.
struct WishLine {
    wish_id: String,
    title: String,
    category: &'static str,
    status: String,
    status_label: &'static str,
    taken: String,
}

/// A household's line.
struct HouseholdLine {
    household_id: String,
    area: String,
    cadre: Option<String>,
    visits: usize,
    last_visit: String,
    open_concerns: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "centre.html")]
struct CentrePage<'a> {
    t: &'static Text,
    nav: Vec<(&'static str, &'static str)>,
    here: &'static str,
    csrf: &'a str,
    key: String,
    position: u64,
    categories: &'static [(&'static str, &'static str); 7],
    wishes: Vec<WishLine>,
    households: Vec<HouseholdLine>,
    /// Leading cadres to pair: id and name.
    cadres: Vec<(String, String)>,
    notice: Option<Notice>,
}

/// The centre's page as `signed_in` sees it, with a form's outcome, reflecting at least
/// `min_position`.
pub(super) async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    let account = &signed_in.session.account;
    if !matches!(account.role, Role::ServiceCentre | Role::CommitteeAdmin) {
        return (StatusCode::FORBIDDEN, Html(t.not_permitted)).into_response();
    }
    let position = match super::reached(state, &[wishes::NAME, scorecard::NAME], min_position).await
    {
        Ok(position) => position,
        Err(response) => return response,
    };
    let pool = state.read.pool();
    let read = async {
        Ok::<_, sqlx::Error>((
            wishes::board(pool, None, FOLLOWED).await?,
            scorecard::households(pool).await?,
            scorecard::cadres(pool).await?,
            scorecard::member_names(pool).await?,
        ))
    };
    let (board, households, cadres, names) = match read.await {
        Ok(found) => found,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let status = Notice::status(notice.as_ref());
    let rendered = CentrePage {
        t,
        nav: super::nav(t, account),
        here: "/centre",
        csrf: &signed_in.session.csrf,
        key: form_key(),
        position,
        categories: &t.categories,
        wishes: board
            .into_iter()
            .map(|w| WishLine {
                category: t.category(&w.category),
                status_label: t.wish_status(&w.status),
                taken: format!("{}/{}", w.taken, w.volunteers),
                wish_id: w.wish_id,
                title: w.title,
                status: w.status,
            })
            .collect(),
        households: households
            .into_iter()
            .map(|h| HouseholdLine {
                cadre: h.cadre_id.map(|c| names.get(&c).cloned().unwrap_or(c)),
                household_id: h.household_id,
                area: h.area,
                visits: h.visits,
                last_visit: h.last_visit.unwrap_or_default(),
                open_concerns: h.open_concerns,
            })
            .collect(),
        cadres,
        notice,
    }
    .render();
    page(status, rendered)
}

async fn centre_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
) -> Response {
    render(&state, &signed_in, lang.text(), None, None).await
}
