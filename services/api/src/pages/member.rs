//! The member's page, `/my`: the year at a glance (the criteria against the required, the
//! card's two sides, stars, the appraisal, hours by status, what is still missing), the
//! open needs and wishes to claim, the member's claims to give back, and hours to log.
//! Each form is the command a member sends through the API, as the signed-in member.

use super::text::Text;
use super::{PageLang, SignedIn, csrf_matches, forged, form_key, page};
use crate::AppState;
use crate::routes::asof::When;
use crate::routes::assessments::{Assessment, assessment};
use allweather_command::CommandError;
use allweather_domain::command::{ClaimWish, LogServiceHours, ReleaseWish};
use allweather_domain::permissions::Read;
use allweather_domain::values::{Category, Year, stored_name};
use allweather_domain::{Command, Principal};
use allweather_projections::{records::RecordStatus, scorecard, wishes};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Datelike as _, NaiveDate};
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/my", get(my_page))
        .route("/my/wishes/{wish_id}/{action}", post(wish_action))
        .route("/my/hours", post(log_hours))
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

/// A form's outcome, shown beside it.
struct Notice {
    /// The form (`claim`, `release`, `hours`).
    form: &'static str,
    /// The field at fault, if one is.
    field: Option<String>,
    /// The sentence.
    sentence: String,
    ok: bool,
}

#[derive(Template)]
#[template(path = "my.html")]
struct MyPage<'a> {
    t: &'static Text,
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
fn this_year(state: &AppState) -> (i32, NaiveDate) {
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

async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    let Some((principal, member_id)) = member_of(signed_in) else {
        return (StatusCode::FORBIDDEN, t.no_member).into_response();
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
    if let Ok(progress) = state.progress(wishes::NAME)
        && let Err(e) = crate::routes::reach(progress, min_position).await
    {
        return e.into_response();
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
    let status = match &notice {
        Some(n) if !n.ok => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let rendered = MyPage {
        t,
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

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    key: String,
}

/// Sends `command` as the signed-in member; the page again, with the outcome beside the
/// form.
async fn act(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    form: &'static str,
    key: &str,
    command: Command,
) -> Response {
    let principal = signed_in.session.account.principal();
    match state.commands.submit(&principal, command, Some(key)).await {
        // Shown as it stands once the read models have the command.
        Ok(reply) => {
            let notice = Notice {
                form,
                field: None,
                sentence: t.done.to_owned(),
                ok: true,
            };
            render(state, signed_in, t, Some(notice), Some(reply.position)).await
        }
        Err(CommandError::Internal(e)) => {
            crate::problem::ApiError::from(CommandError::Internal(e)).into_response()
        }
        Err(e) => {
            let (field, sentence) = refusal(t, &e);
            let notice = Notice {
                form,
                field,
                sentence,
                ok: false,
            };
            render(state, signed_in, t, Some(notice), None).await
        }
    }
}

/// A refused command as a sentence in the page's language, and the field at fault.
pub(super) fn refusal(t: &'static Text, e: &CommandError) -> (Option<String>, String) {
    let chinese = t.html_lang.starts_with("zh");
    match e {
        CommandError::Refused(d) => (
            d.field.map(str::to_owned),
            if chinese {
                d.rule.sentence_zh().to_owned()
            } else {
                d.detail.clone()
            },
        ),
        CommandError::Malformed { errors, detail } => (
            errors.first().map(|f| f.field.clone()),
            if chinese {
                format!("{}（{detail}）", t.invalid_field)
            } else {
                detail.clone()
            },
        ),
        other => (None, other.to_string()),
    }
}

/// Claims a wish or gives it back (`action`: `claim` or `release`).
async fn wish_action(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path((wish_id, action)): Path<(Uuid, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let Some((_, member_id)) = member_of(&signed_in) else {
        return Redirect::to("/my").into_response();
    };
    let (form_name, command) = match action.as_str() {
        "claim" => (
            "claim",
            Command::ClaimWish(ClaimWish { wish_id, member_id }),
        ),
        "release" => (
            "release",
            Command::ReleaseWish(ReleaseWish { wish_id, member_id }),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    act(
        &state,
        &signed_in,
        lang.text(),
        form_name,
        &form.key,
        command,
    )
    .await
}

#[derive(Deserialize)]
struct HoursForm {
    csrf: String,
    key: String,
    date: String,
    hours: String,
    category: String,
    activity: String,
}

async fn log_hours(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Form(form): Form<HoursForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let Some((_, member_id)) = member_of(&signed_in) else {
        return Redirect::to("/my").into_response();
    };
    let bad = |field: &str, sentence: &str| Notice {
        form: "hours",
        field: Some(field.to_owned()),
        sentence: sentence.to_owned(),
        ok: false,
    };
    let chinese = t.html_lang.starts_with("zh");
    let Ok(date) = form.date.parse::<NaiveDate>() else {
        let n = bad(
            "date",
            if chinese {
                "请填写日期（年-月-日）。"
            } else {
                "Give the date (YYYY-MM-DD)."
            },
        );
        return render(&state, &signed_in, t, Some(n), None).await;
    };
    let Ok(hours) = form.hours.trim().parse::<f64>() else {
        let n = bad(
            "hours",
            if chinese {
                "请填写时长（小时，可带小数）。"
            } else {
                "Give the hours (a number)."
            },
        );
        return render(&state, &signed_in, t, Some(n), None).await;
    };
    let Ok(category) =
        serde_json::from_value::<Category>(serde_json::Value::String(form.category.clone()))
    else {
        let n = bad(
            "category",
            if chinese {
                "请选择类别。"
            } else {
                "Choose a category."
            },
        );
        return render(&state, &signed_in, t, Some(n), None).await;
    };
    let command = Command::LogServiceHours(LogServiceHours {
        record_id: None,
        member_id,
        date,
        hours,
        category,
        activity: form.activity.clone(),
        channel: None,
        campaign_id: None,
        start_time: None,
        organising_branch_id: None,
    });
    act(&state, &signed_in, t, "hours", &form.key, command).await
}
