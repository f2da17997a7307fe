//! A branch's work, `/branches/{branch_id}?year=`: the hours waiting for its verification
//! (verify several at once, or reject one with a reason); the year's cards waiting for
//! this branch's side, with the other side's opinion beside them, and the cards still to
//! issue; stars (a community branch) or appraisals (a unit branch) to record, each beside
//! the member's evidence; members below the required points; the meetings and activities
//! held against the required, and a form to record one with its attendees; the roster,
//! with a sign-in code for each member. Every form is a command (`/act`). Opened by the branch's
//! secretary or deputy (a member's account, acting as secretary of that branch, which the
//! domain allows only while the branch's stream says they hold the post), the committee
//! and its auditors; anyone else — another branch's secretary typing the address — is
//! refused before anything is read.

use super::text::Text;
use super::{Notice, PageLang, SignedIn, csrf_matches, forged, form_key};
use crate::AppState;
use allweather_command::CommandError;
use allweather_command::accounts::Account;
use allweather_domain::Principal;
use allweather_domain::command::InviteAccount;
use allweather_domain::permissions::Read;
use allweather_domain::values::{BranchKind, Side, stored_name};
use allweather_projections::{assessment, scorecard};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/branches/{branch_id}", get(branch_page))
        .route("/branches/{branch_id}/invite", post(invite))
}

/// The principal an account acts in on `branch_id`'s pages: a member as its secretary,
/// any other account in its own role.
pub(super) fn acting_for(account: &Account, branch_id: Uuid) -> Principal {
    account
        .as_secretary(branch_id)
        .unwrap_or_else(|| account.principal())
}

/// A waiting record's line.
struct WaitingLine {
    record_id: String,
    name: String,
    day: String,
    hours: String,
    category: &'static str,
    activity: String,
}

/// A member of the branch as the year's judgement sees them.
struct MemberLine {
    member_id: String,
    name: String,
    /// Service points reached and required (`12.50`).
    points: String,
    required: String,
    /// What is still missing.
    missing: Vec<String>,
    /// The other side's opinion and remarks, once signed.
    other: Option<(&'static str, String)>,
    /// This form's name (per member).
    form: String,
}

/// What a branch of this kind held of what it must.
struct Held {
    what: &'static str,
    held: usize,
    required: u32,
}

#[derive(Template)]
#[template(path = "branch.html")]
struct BranchPage<'a> {
    t: &'static Text,
    nav: Vec<(&'static str, &'static str)>,
    here: String,
    csrf: &'a str,
    key: String,
    branch_id: Uuid,
    name: String,
    year: i32,
    position: u64,
    /// `community` or `unit`: the side of the card this branch signs.
    side: &'static str,
    waiting: Vec<WaitingLine>,
    to_sign: Vec<MemberLine>,
    without_card: Vec<MemberLine>,
    to_star: Vec<MemberLine>,
    to_appraise: Vec<MemberLine>,
    below: Vec<MemberLine>,
    held: Vec<Held>,
    max_stars: Vec<u32>,
    /// Each member: id, name, and which of their branches this is.
    roster: Vec<(String, String, &'static str)>,
    notice: Option<Notice>,
}

/// The branch's page for `year` (this year by default), with a form's outcome.
pub(super) async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    branch_id: Uuid,
    year: Option<i32>,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    let principal = acting_for(&signed_in.session.account, branch_id);
    match state
        .commands
        .authorize(&principal, &Read::Branch(branch_id))
        .await
    {
        Ok(()) => {}
        Err(e) => return super::not_permitted(t, e),
    }
    let position = match super::reached(state, &[scorecard::NAME], min_position).await {
        Ok(position) => position,
        Err(response) => return response,
    };
    let year = year.unwrap_or_else(|| super::member::this_year(state).0);
    let pool = state.read.pool();
    let id = branch_id.to_string();
    let read = async {
        Ok::<_, sqlx::Error>((
            scorecard::waiting_for(pool, &id).await?,
            scorecard::roster(pool, &id).await?,
            scorecard::book(pool, year, None).await?,
            scorecard::rules(pool, year).await?,
        ))
    };
    let (waiting, roster, book, rules) = match read.await {
        Ok(found) => found,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let Some(branch) = book.branches.get(&id) else {
        return (StatusCode::NOT_FOUND, t.not_permitted).into_response();
    };
    let Ok(kind) =
        serde_json::from_value::<BranchKind>(serde_json::Value::String(branch.kind.clone()))
    else {
        return crate::routes::read_error(sqlx::Error::Protocol(format!(
            "a branch of kind {:?}",
            branch.kind
        )))
        .into_response();
    };
    let unit = kind == BranchKind::Unit;
    let (side, other_side) = if unit {
        (Side::Unit, Side::Community)
    } else {
        (Side::Community, Side::Unit)
    };
    let mut page = BranchPage {
        t,
        nav: super::nav(t, &signed_in.session.account),
        here: format!("/branches/{branch_id}?year={year}"),
        csrf: &signed_in.session.csrf,
        key: form_key(),
        branch_id,
        name: branch.name.clone(),
        year,
        position,
        side: if unit { "unit" } else { "community" },
        waiting: waiting
            .into_iter()
            .map(|w| WaitingLine {
                record_id: w.record_id,
                name: w.name,
                day: w.day,
                hours: super::member::hours_text(w.minutes),
                category: t.category(&w.category),
                activity: w.activity,
            })
            .collect(),
        to_sign: Vec::new(),
        without_card: Vec::new(),
        to_star: Vec::new(),
        to_appraise: Vec::new(),
        below: Vec::new(),
        held: Vec::new(),
        max_stars: Vec::new(),
        roster: Vec::new(),
        notice: None,
    };
    if let Some(rules) = &rules {
        let requirement = rules.requirement(kind);
        page.held = vec![
            Held {
                what: t.meetings,
                held: branch.meetings.len(),
                required: requirement.meetings,
            },
            Held {
                what: t.activities,
                held: branch.activities.len(),
                required: requirement.activities,
            },
        ];
        page.max_stars = (1..=rules.max_stars).collect();
    }
    for (member_id, name, in_unit) in &roster {
        let Some(facts) = book.members.get(member_id) else {
            continue;
        };
        let line = |form: &str| {
            let judged = rules
                .as_ref()
                .map(|rules| assessment::assess(year, member_id, facts, rules));
            let points = judged
                .as_ref()
                .and_then(|a| a.criteria.iter().find(|c| c.name == "service_points"));
            MemberLine {
                member_id: member_id.clone(),
                name: name.clone(),
                points: points.map(|c| c.value.to_string()).unwrap_or_default(),
                required: points
                    .and_then(|c| c.required.map(|r| r.to_string()))
                    .unwrap_or_default(),
                missing: judged
                    .iter()
                    .flat_map(|a| a.criteria.iter())
                    .filter(|c| c.passed == Some(false))
                    .map(|c| t.criterion(c.name))
                    .collect(),
                other: facts.sides.iter().find(|o| o.side == other_side).map(|o| {
                    (
                        t.rating(&stored_name(&o.opinion)),
                        o.remarks.clone().unwrap_or_default(),
                    )
                }),
                form: format!("{form}-{member_id}"),
            }
        };
        // A side is signed by the member's branch now (as the domain decides it): this
        // branch signs the side it is the member's branch for.
        let signs_here = facts.card.is_some() && *in_unit == unit;
        if signs_here && !facts.sides.iter().any(|o| o.side == side) {
            page.to_sign.push(line("sign"));
        }
        if facts.card.is_none() {
            page.without_card.push(line("issue"));
        }
        if signs_here && !unit && facts.stars.is_none() {
            page.to_star.push(line("stars"));
        }
        if unit && *in_unit && facts.appraisal.is_none() {
            page.to_appraise.push(line("appraise"));
        }
        let below = line("below");
        if below.missing.contains(&t.criterion("service_points")) {
            page.below.push(below);
        }
    }
    page.roster = roster
        .into_iter()
        .map(|(id, name, unit)| {
            let side = if unit {
                t.unit_branch
            } else {
                t.service_branch
            };
            (id, name, side)
        })
        .collect();
    let status = Notice::status(notice.as_ref());
    page.notice = notice;
    super::page(status, page.render())
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

async fn branch_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path(branch_id): Path<Uuid>,
    Query(q): Query<YearQuery>,
) -> Response {
    render(
        &state,
        &signed_in,
        lang.text(),
        branch_id,
        q.year,
        None,
        None,
    )
    .await
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    key: String,
    member: Uuid,
}

/// Gives a member of the branch a sign-in code (the `InviteAccount` command, as the
/// branch's secretary or the committee): a sheet to print or show, with the QR code.
async fn invite(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    headers: axum::http::HeaderMap,
    Path(branch_id): Path<Uuid>,
    Form(form): Form<InviteForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let principal = acting_for(&signed_in.session.account, branch_id);
    let invite = InviteAccount {
        member_id: Some(form.member),
        role: None,
        account_id: None,
    };
    let key = format!("{}-invite-{}", form.key, form.member);
    let invitation = match state
        .commands
        .invite_account(&principal, invite, Some(&key))
        .await
    {
        Ok(invitation) => invitation,
        Err(CommandError::Internal(e)) => {
            return crate::problem::ApiError::from(CommandError::Internal(e)).into_response();
        }
        Err(e) => {
            let (field, sentence) = super::refusal(t, &e);
            let notice = Notice::refused("invite".into(), field, sentence);
            return render(&state, &signed_in, t, branch_id, None, Some(notice), None).await;
        }
    };
    let name = match scorecard::roster(state.read.pool(), &branch_id.to_string()).await {
        Ok(roster) => roster
            .into_iter()
            .find(|(id, _, _)| *id == form.member.to_string())
            .map(|(_, name, _)| name)
            .unwrap_or_default(),
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    super::code_sheet(
        &state,
        t,
        &headers,
        &format!("/branches/{branch_id}"),
        &name,
        &invitation,
    )
}
