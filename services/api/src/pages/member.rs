//! The member's page, `/my`: the year at a glance (the criteria against the required, the
//! card's two sides, stars, the appraisal, hours by status, what is still missing), the
//! open needs and wishes to claim, the member's claims to give back or mark fulfilled,
//! hours to log (with the campaign), and for a leading cadre the households paired with
//! them, to record a visit or raise a concern.
//! Each form is the command a member sends through the API, as the signed-in member.

use super::text::Text;
use super::{Notice, PageLang, SignedIn, form_key, page};
use crate::AppState;
use crate::routes::asof::When;
use crate::routes::assessments::{Assessment, assessment};
use allweather_command::CommandError;
use allweather_domain::Principal;
use allweather_domain::permissions::Read;
use allweather_domain::values::{Year, stored_name};
use allweather_projections::{records::RecordStatus, scorecard, wishes};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike as _, NaiveDate};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/my", get(my_page))
}

/// A criterion's line.
struct Line {
    name: String,
    value: String,
    required: String,
    verdict: &'static str,
    passed: Option<bool>,
}

/// A wish's line.
struct WishRow {
    wish_id: String,
    title: String,
    category: &'static str,
}

/// A card side.
struct Side {
    name: &'static str,
    opinion: Option<String>,
}

#[derive(Template)]
#[template(path = "my.html")]
struct MyPage<'a> {
    t: &'static Text,
    nav: Vec<(&'static str, &'static str)>,
    member_id: Uuid,
    /// The year's campaigns: id and name.
    campaigns: Vec<(String, String)>,
    /// The households the member is paired with as a leading cadre.
    households: Vec<scorecard::HouseholdLine>,
    here: &'a str,
    csrf: &'a str,
    key: String,
    name: String,
    year: i32,
    position: u64,
    lines: Vec<Line>,
    missing: Vec<String>,
    sides: Vec<Side>,
    stars: Option<u32>,
    appraisal: Option<String>,
    hours: Vec<(&'static str, i64, String)>,
    open: Vec<WishRow>,
    mine: Vec<WishRow>,
    categories: &'static [(&'static str, &'static str); 7],
    /// The branches the member serves as secretary or deputy: (id, name).
    branches: Vec<(String, String)>,
    today: String,
    notice: Option<Notice>,
}

/// The county's year today.
pub(super) fn this_year(state: &AppState) -> (i32, NaiveDate) {
    let now = state.commands.now().to_datetime();
    let today = now
        .with_timezone(&state.commands.options().county_offset)
        .date_naive();
    (today.year(), today)
}

pub(super) fn hours_text(minutes: i64) -> String {
    format!("{}.{:02}", minutes / 60, (minutes % 60) * 100 / 60)
}

/// The member the signed-in account is, or a page saying it is none.
fn member_of(signed_in: &SignedIn) -> Option<(Principal, Uuid)> {
    let account = &signed_in.session.account;
    Some((account.principal(), account.member_id?))
}

pub(super) async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    let Some((principal, member_id)) = member_of(signed_in) else {
        return Redirect::to(super::home(&signed_in.session.account)).into_response();
    };
    let (year, today) = this_year(state);
    let Ok(year_value) = Year::new(i64::from(year)) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "year").into_response();
    };
    let when = When {
        min_position,
        as_of_position: None,
        as_of: None,
    };
    let judged: Option<Assessment> =
        match assessment(state, &principal, member_id, year_value, when).await {
            Ok(a) => Some(a),
            // Not yet in the read model (a new member), or no rules yet: the page still
            // shows what it can.
            Err(crate::problem::ApiError::Command(CommandError::NotFound(_))) => None,
            Err(e) => return e.into_response(),
        };
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    let mut sides = vec![
        Side {
            name: t.community_side,
            opinion: None,
        },
        Side {
            name: t.unit_side,
            opinion: None,
        },
    ];
    let (mut stars, mut appraisal, mut name, mut position) = (None, None, String::new(), 0);
    if let Some(a) = &judged {
        for c in &a.criteria {
            let verdict = match c.passed {
                Some(true) => t.met,
                Some(false) => t.not_met,
                None => t.informs,
            };
            if c.passed == Some(false) {
                missing.push(t.criterion(c.name));
            }
            lines.push(Line {
                name: t.criterion(c.name),
                value: c.value.to_string(),
                required: c
                    .required
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                verdict,
                passed: c.passed,
            });
        }
        sides[0].opinion = a.card.community.as_ref().map(|o| stored_name(&o.opinion));
        sides[1].opinion = a.card.unit.as_ref().map(|o| stored_name(&o.opinion));
        stars = a.card.stars.as_ref().map(|s| s.stars);
        appraisal = a.appraisal.as_ref().map(|p| stored_name(&p.rating));
        name.clone_from(&a.name);
        position = a.position;
    }
    // What the page shows after a command reflects it: the board too.
    if let Err(response) = super::reached(state, &[wishes::NAME], min_position).await {
        return response;
    }
    let pool = state.read.pool();
    let by_status = match scorecard::hours_by_status(pool, year, &member_id.to_string()).await {
        Ok(rows) => rows,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let hours = [
        (RecordStatus::Pending, t.waiting),
        (RecordStatus::Verified, t.verified),
        (RecordStatus::Rejected, t.rejected),
    ]
    .into_iter()
    .map(|(status, label)| {
        let (count, minutes) = by_status
            .iter()
            .find(|(s, _, _)| *s == status)
            .map_or((0, 0), |(_, n, m)| (*n, *m));
        (label, count, hours_text(minutes))
    })
    .collect();
    let board = match wishes::board(pool, None, 200).await {
        Ok(board) => board,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let me = member_id.to_string();
    let row = |w: &wishes::WishLine| WishRow {
        wish_id: w.wish_id.clone(),
        title: w.title.clone(),
        category: t.category(&w.category),
    };
    let open = board
        .iter()
        .filter(|w| w.status == "open")
        .map(row)
        .collect();
    let mine = board
        .iter()
        .filter(|w| w.status == "claimed" && w.claimed_by.as_deref() == Some(me.as_str()))
        .map(row)
        .collect();
    let mut branches = Vec::new();
    let theirs = match scorecard::branches_of(pool, &me).await {
        Ok(theirs) => theirs,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    for b in theirs {
        let Ok(id) = b.parse::<Uuid>() else { continue };
        let acting = super::branch::acting_for(&signed_in.session.account, id);
        if state
            .commands
            .authorize(&acting, &Read::Branch(id))
            .await
            .is_ok()
        {
            let name = match scorecard::branch_name(pool, &b).await {
                Ok(name) => name.unwrap_or_default(),
                Err(e) => return crate::routes::read_error(e).into_response(),
            };
            branches.push((b, name));
        }
    }
    let status = Notice::status(notice.as_ref());
    let campaigns = match scorecard::campaigns(pool, year).await {
        Ok(campaigns) => campaigns,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let households = match scorecard::households(pool).await {
        Ok(all) => all
            .into_iter()
            .filter(|h| h.cadre_id.as_deref() == Some(me.as_str()))
            .collect(),
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let rendered = MyPage {
        t,
        households,
        nav: super::nav(t, &signed_in.session.account),
        member_id,
        campaigns,
        here: "/my",
        csrf: &signed_in.session.csrf,
        key: form_key(),
        name,
        year,
        position,
        lines,
        missing,
        sides,
        stars,
        appraisal,
        hours,
        open,
        mine,
        categories: &t.categories,
        branches,
        today: today.to_string(),
        notice,
    }
    .render();
    page(status, rendered)
}

async fn my_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
) -> Response {
    render(&state, &signed_in, lang.text(), None, None).await
}
