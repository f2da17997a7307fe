//! A branch's work, `/branches/{branch_id}`: the hours waiting for its verification (verify
//! several at once, or reject one with a reason) and its roster. Opened by the branch's
//! secretary or deputy (a member's account, acting as secretary of that branch, which the
//! domain allows only while the branch's stream says they hold the post), the committee
//! and its auditors; anyone else — another branch's secretary typing the address — is
//! refused before anything is read.

use super::text::Text;
use super::{PageLang, SignedIn, csrf_matches, forged, form_key, page};
use crate::AppState;
use allweather_command::CommandError;
use allweather_command::accounts::Account;
use allweather_domain::command::{InviteAccount, RejectServiceHours, VerifyServiceHours};
use allweather_domain::permissions::Read;
use allweather_domain::{Command, Principal};
use allweather_projections::scorecard;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/branches/{branch_id}", get(branch_page))
        .route("/branches/{branch_id}/verify", post(verify))
        .route("/branches/{branch_id}/reject", post(reject))
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

/// A form's outcome.
struct Notice {
    sentence: String,
    ok: bool,
}

#[derive(Template)]
#[template(path = "branch.html")]
struct BranchPage<'a> {
    t: &'static Text,
    here: String,
    csrf: &'a str,
    key: String,
    branch_id: Uuid,
    name: String,
    waiting: Vec<WaitingLine>,
    /// Each member: id, name, and which of their branches this is.
    roster: Vec<(String, String, &'static str)>,
    notice: Option<Notice>,
}

/// The page refused: 403 and a sentence, nothing read.
fn refused(t: &'static Text) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::response::Html(format!(
            "<!doctype html><html lang=\"{}\"><meta charset=utf-8><title>403</title><main><p role=\"alert\">{}</p><p><a href=\"/my\">↩</a></p></main></html>",
            t.html_lang, t.not_permitted
        )),
    )
        .into_response()
}

async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    branch_id: Uuid,
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
        Err(CommandError::Refused(_) | CommandError::Forbidden(_)) => return refused(t),
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    }
    if let Ok(progress) = state.progress(scorecard::NAME)
        && let Err(e) = crate::routes::reach(progress, min_position).await
    {
        return e.into_response();
    }
    let pool = state.read.pool();
    let id = branch_id.to_string();
    let read = async {
        Ok::<_, sqlx::Error>((
            scorecard::branch_name(pool, &id).await?,
            scorecard::waiting_for(pool, &id).await?,
            scorecard::roster(pool, &id).await?,
        ))
    };
    let (name, waiting, roster) = match read.await {
        Ok(found) => found,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let status = match &notice {
        Some(n) if !n.ok => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let rendered = BranchPage {
        t,
        here: format!("/branches/{branch_id}"),
        csrf: &signed_in.session.csrf,
        key: form_key(),
        branch_id,
        name: name.unwrap_or_default(),
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
        roster: roster
            .into_iter()
            .map(|(id, name, unit)| {
                let side = if unit {
                    t.unit_branch
                } else {
                    t.service_branch
                };
                (id, name, side)
            })
            .collect(),
        notice,
    }
    .render();
    page(status, rendered)
}

async fn branch_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path(branch_id): Path<Uuid>,
) -> Response {
    render(&state, &signed_in, lang.text(), branch_id, None, None).await
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: String,
    key: String,
    #[serde(default)]
    record: Vec<Uuid>,
}

/// Verifies each selected record, a command each (so each is decided on its own): the
/// page again with how many were verified and the first refusal's sentence.
async fn verify(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path(branch_id): Path<Uuid>,
    Form(form): Form<VerifyForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let principal = acting_for(&signed_in.session.account, branch_id);
    let (mut verified, mut refusal, mut position) = (0usize, None, None);
    for record_id in &form.record {
        let command = Command::VerifyServiceHours(VerifyServiceHours {
            record_id: *record_id,
        });
        let key = format!("{}-{record_id}", form.key);
        match state.commands.submit(&principal, command, Some(&key)).await {
            Ok(reply) => {
                verified += 1;
                position = Some(reply.position);
            }
            Err(CommandError::Internal(e)) => {
                return crate::problem::ApiError::from(CommandError::Internal(e)).into_response();
            }
            Err(e) => {
                refusal.get_or_insert_with(|| super::member::refusal(t, &e).1);
            }
        }
    }
    let done = format!("{verified}{}", t.verified_n);
    let notice = match refusal {
        Some(sentence) => Notice {
            sentence: format!("{done} {sentence}"),
            ok: false,
        },
        None => Notice {
            sentence: done,
            ok: true,
        },
    };
    render(&state, &signed_in, t, branch_id, Some(notice), position).await
}

#[derive(Deserialize)]
struct RejectForm {
    csrf: String,
    key: String,
    record: Uuid,
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path(branch_id): Path<Uuid>,
    Form(form): Form<RejectForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let principal = acting_for(&signed_in.session.account, branch_id);
    let command = Command::RejectServiceHours(RejectServiceHours {
        record_id: form.record,
        reason: form.reason,
    });
    let key = format!("{}-{}", form.key, form.record);
    match state.commands.submit(&principal, command, Some(&key)).await {
        Ok(reply) => {
            let notice = Notice {
                sentence: t.done.to_owned(),
                ok: true,
            };
            render(
                &state,
                &signed_in,
                t,
                branch_id,
                Some(notice),
                Some(reply.position),
            )
            .await
        }
        Err(CommandError::Internal(e)) => {
            crate::problem::ApiError::from(CommandError::Internal(e)).into_response()
        }
        Err(e) => {
            let notice = Notice {
                sentence: super::member::refusal(t, &e).1,
                ok: false,
            };
            render(&state, &signed_in, t, branch_id, Some(notice), None).await
        }
    }
}

/// A sign-in code, printable: the person's name, the code, its link as a QR code.
#[derive(Template)]
#[template(path = "signin_code.html")]
struct CodeSheet<'a> {
    t: &'static Text,
    here: String,
    name: &'a str,
    code: &'a str,
    link: String,
    qr: String,
    until: String,
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    key: String,
    member: Uuid,
}

/// The address people reach the platform at, as this request came in.
fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if super::over_tls(headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
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
            let notice = Notice {
                sentence: super::member::refusal(t, &e).1,
                ok: false,
            };
            return render(&state, &signed_in, t, branch_id, Some(notice), None).await;
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
    let link = format!("{}/signin?code={}", base_url(&headers), invitation.code);
    let qr = match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(e) => {
            return crate::problem::ApiError::from(anyhow::anyhow!("make the QR code: {e}"))
                .into_response();
        }
    };
    let until = chrono::DateTime::from_timestamp_micros(invitation.expires_at_us)
        .map(|at| {
            at.with_timezone(&state.commands.options().county_offset)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let rendered = CodeSheet {
        t,
        here: format!("/branches/{branch_id}"),
        name: &name,
        code: &invitation.code,
        link,
        qr,
        until,
    }
    .render();
    page(StatusCode::OK, rendered)
}
