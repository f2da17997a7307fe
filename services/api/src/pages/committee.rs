//! The committee's pages, and the auditor's (the same, read only):
//!
//! - `/committee?year=`: the year's rules (adopt a rules file, or reassess the year under
//!   a draft and see what would change — every problem of a file named, as the CLI does),
//!   the cards (issue every member's in bulk), the branch rankings, the integrity flags,
//!   the roster (upload the county's spreadsheet, dry run first) and closing the year
//!   (naming every member closed without an appraisal);
//! - `/committee/accounts`: every account, a role's account given (a sign-in code to
//!   print), an account disabled;
//! - `/audit?year=`: everything above without a form, and the log's audit status: its
//!   head, the read models' positions, and the hash chain walked on request.
//!
//! Each form is a command through `/act`, except the uploads (a file is read here, then
//! sent as its commands) and a role's invitation (it answers with a code to print).

use super::text::Text;
use super::{Notice, PageLang, SignedIn, csrf_matches, forged, form_key, page};
use crate::AppState;
use allweather_command::CommandError;
use allweather_command::roster::{self, Roster};
use allweather_domain::command::{AdoptRules, InviteAccount};
use allweather_domain::permissions::Read;
use allweather_domain::rules::Rules;
use allweather_domain::values::Year;
use allweather_events::Role;
use allweather_projections::{assessment, integrity, scorecard};
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/committee", get(committee_page))
        .route("/audit", get(audit_page))
        .route("/audit/verify", post(verify_chain))
        .route("/committee/upload", post(upload))
        .route("/committee/accounts", get(accounts_page))
        .route("/committee/invite", post(invite))
}

/// A branch's place in the rankings.
struct RankLine {
    rank: u32,
    name: String,
    kind: String,
    members: u64,
    score: String,
}

/// A flag's line.
struct FlagLine {
    kind: &'static str,
    subject: String,
    date: String,
    detail: String,
}

/// A member closed without an appraisal, if the year closes now.
struct Unappraised {
    member_id: String,
    name: String,
}

/// What a reassessment under a draft would change.
struct Reassessed {
    members_changed: usize,
    branches_changed: usize,
    /// Each change: what, its name, before → after, the criteria that move, and the
    /// judgements newly contradicted or reconciled.
    changes: Vec<Change>,
}

struct Change {
    kind: String,
    name: String,
    before: String,
    after: String,
    criteria: Vec<String>,
    contradicted: Vec<String>,
    reconciled: Vec<String>,
}

/// The log's audit status.
struct AuditStatus {
    head: u64,
    head_hash: String,
    /// Each read model: its name and the position it has applied.
    models: Vec<(&'static str, u64)>,
    /// The chain walked on request: events verified, the head it reached, the first
    /// broken link.
    walked: Option<(u64, String, Option<String>)>,
}

#[derive(Template)]
#[template(path = "committee.html")]
struct CommitteePage<'a> {
    t: &'static Text,
    nav: Vec<(&'static str, &'static str)>,
    here: String,
    /// `/committee` or `/audit`.
    path: &'static str,
    csrf: &'a str,
    key: String,
    /// Forms shown (the committee) or not (an auditor).
    can_act: bool,
    year: i32,
    position: u64,
    rules_in_force: bool,
    members: usize,
    cards_issued: usize,
    cards_complete: usize,
    appraised: usize,
    rankings: Vec<RankLine>,
    flags: Vec<FlagLine>,
    unappraised: Vec<Unappraised>,
    /// A file's problems, each `WHERE: what`.
    problems: Vec<String>,
    reassessed: Option<Reassessed>,
    audit: Option<AuditStatus>,
    notice: Option<Notice>,
}

/// What else a page shows after an upload or a walk of the chain.
#[derive(Default)]
pub(super) struct Extra {
    problems: Vec<String>,
    reassessed: Option<Reassessed>,
    walked: Option<(u64, String, Option<String>)>,
}

/// The committee's page (`audit`: the auditor's, with no form and the audit status) for
/// `year`, with a form's outcome.
#[allow(clippy::too_many_arguments)]
pub(super) async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    audit: bool,
    year: Option<i32>,
    notice: Option<Notice>,
    extra: Extra,
    min_position: Option<u64>,
) -> Response {
    let principal = signed_in.session.account.principal();
    if let Err(e) = state.commands.authorize(&principal, &Read::Oversight).await {
        return super::not_permitted(t, e);
    }
    let can_act = !audit && principal.role == Role::CommitteeAdmin;
    let position = match super::reached(state, &[scorecard::NAME], min_position).await {
        Ok(position) => position,
        Err(response) => return response,
    };
    let year = year.unwrap_or_else(|| super::member::this_year(state).0);
    let pool = state.read.pool();
    let read = async {
        Ok::<_, sqlx::Error>((
            scorecard::book(pool, year, None).await?,
            scorecard::rules(pool, year).await?,
            integrity::flags(pool, year).await?,
        ))
    };
    let (book, rules, flags) = match read.await {
        Ok(found) => found,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let rankings = rules
        .as_ref()
        .map(|rules| {
            assessment::rank(&book, rules, None)
                .into_iter()
                .map(|s| RankLine {
                    rank: s.rank,
                    name: s.name,
                    kind: t.branch_kind(&s.kind).to_owned(),
                    members: s.members,
                    score: format!("{}.{:02}", s.score / 100, s.score % 100),
                })
                .collect()
        })
        .unwrap_or_default();
    let audit_status = if audit {
        let head = match state.commands.log().head().await {
            Ok(head) => head,
            Err(e) => return crate::problem::ApiError::from(CommandError::from(e)).into_response(),
        };
        let models = allweather_projections::all()
            .iter()
            .filter_map(|p| {
                state
                    .progress(p.name())
                    .ok()
                    .map(|progress| (p.name(), progress.position()))
            })
            .collect();
        Some(AuditStatus {
            head: head.position,
            head_hash: head.hash.to_string(),
            models,
            walked: extra.walked,
        })
    } else {
        None
    };
    let status = if extra.problems.is_empty() {
        Notice::status(notice.as_ref())
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let path = if audit { "/audit" } else { "/committee" };
    let rendered = CommitteePage {
        t,
        nav: super::nav(t, &signed_in.session.account),
        here: format!("{path}?year={year}"),
        path,
        csrf: &signed_in.session.csrf,
        key: form_key(),
        can_act,
        year,
        position,
        rules_in_force: rules.is_some(),
        members: book.members.len(),
        cards_issued: book.members.values().filter(|m| m.card.is_some()).count(),
        cards_complete: book.members.values().filter(|m| m.sides.len() == 2).count(),
        appraised: book
            .members
            .values()
            .filter(|m| m.appraisal.is_some())
            .count(),
        rankings,
        flags: flags
            .into_iter()
            .map(|f| FlagLine {
                kind: t.flag(f.kind),
                subject: book
                    .members
                    .get(&f.subject)
                    .map_or_else(|| f.subject.clone(), |m| m.name.clone()),
                date: f.date,
                detail: f.detail,
            })
            .collect(),
        unappraised: book
            .members
            .iter()
            .filter(|(_, m)| m.appraisal.is_none())
            .map(|(id, m)| Unappraised {
                member_id: id.clone(),
                name: m.name.clone(),
            })
            .collect(),
        problems: extra.problems,
        reassessed: extra.reassessed,
        audit: audit_status,
        notice,
    }
    .render();
    page(status, rendered)
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

async fn committee_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Query(q): Query<YearQuery>,
) -> Response {
    let t = lang.text();
    render(
        &state,
        &signed_in,
        t,
        false,
        q.year,
        None,
        Extra::default(),
        None,
    )
    .await
}

async fn audit_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Query(q): Query<YearQuery>,
) -> Response {
    let t = lang.text();
    render(
        &state,
        &signed_in,
        t,
        true,
        q.year,
        None,
        Extra::default(),
        None,
    )
    .await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    year: Option<i32>,
}

/// Walks the whole hash chain (committee and auditors): the audit page with the result.
async fn verify_chain(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let principal = signed_in.session.account.principal();
    if let Err(e) = state.commands.authorize(&principal, &Read::Oversight).await {
        return super::not_permitted(t, e);
    }
    let walked = match state.commands.log().verify(|_| {}).await {
        Ok(report) => (
            report.verified,
            report.head.to_string(),
            report.broken.map(|b| b.to_string()),
        ),
        Err(e) => return crate::problem::ApiError::from(CommandError::from(e)).into_response(),
    };
    let extra = Extra {
        walked: Some(walked),
        ..Extra::default()
    };
    render(&state, &signed_in, t, true, form.year, None, extra, None).await
}

/// An uploaded form: its fields and its one file.
struct Upload {
    fields: Vec<(String, String)>,
    file: Option<(String, Vec<u8>)>,
}

impl Upload {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    async fn read(mut multipart: Multipart) -> Result<Upload, String> {
        let mut upload = Upload {
            fields: Vec::new(),
            file: None,
        };
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) if name == "file" => {
                    let bytes = field.bytes().await.map_err(|e| e.to_string())?;
                    if !file_name.is_empty() {
                        upload.file = Some((file_name, bytes.to_vec()));
                    }
                }
                _ => {
                    let text = field.text().await.map_err(|e| e.to_string())?;
                    upload.fields.push((name, text));
                }
            }
        }
        Ok(upload)
    }
}

/// A file uploaded on the committee's page (`what`): `rules` adopts it as the year's
/// rules, `reassess` judges the year under it and shows what would change, `roster`
/// imports the county's roster (`dry_run` only checks it). Every problem of the file is
/// named; with any, nothing is sent.
async fn upload(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    multipart: Multipart,
) -> Response {
    let t = lang.text();
    let upload = match Upload::read(multipart).await {
        Ok(upload) => upload,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("{}: {e}", t.form_expired)).into_response();
        }
    };
    if !csrf_matches(
        &signed_in.session.csrf,
        upload.get("csrf").unwrap_or_default(),
    ) {
        return forged(lang);
    }
    let year = upload.get("year").and_then(|y| y.parse().ok());
    let what = upload.get("what").unwrap_or_default().to_owned();
    let key = upload.get("key").map_or_else(form_key, str::to_owned);
    let principal = signed_in.session.account.principal();
    if let Err(e) = state.commands.authorize(&principal, &Read::Oversight).await {
        return super::not_permitted(t, e);
    }
    let refused = |problems: Vec<String>| Extra {
        problems,
        ..Extra::default()
    };
    let Some((file_name, bytes)) = upload.file.as_ref() else {
        let notice = Notice::refused(what, Some("file".into()), t.choose_file.to_owned());
        return render(
            &state,
            &signed_in,
            t,
            false,
            year,
            Some(notice),
            Extra::default(),
            None,
        )
        .await;
    };
    let (notice, extra, position) = match what.as_str() {
        "rules" | "reassess" => {
            let text = String::from_utf8_lossy(bytes);
            let (rules, document) = match Rules::from_toml_document(&text) {
                Ok(read) => read,
                Err(e) => {
                    let problems =
                        e.0.iter()
                            .map(|p| format!("{file_name}: {}: {}", p.field, p.message))
                            .collect();
                    let notice = Notice::refused(what, None, t.file_has_problems.to_owned());
                    return render(
                        &state,
                        &signed_in,
                        t,
                        false,
                        year,
                        Some(notice),
                        refused(problems),
                        None,
                    )
                    .await;
                }
            };
            if what == "rules" {
                adopt(&state, &principal, t, document, &rules, &key).await
            } else {
                match reassess(&state, t, &rules).await {
                    Ok(reassessed) => (
                        Notice::done(what, t.reassessed.to_owned()),
                        Extra {
                            reassessed: Some(reassessed),
                            ..Extra::default()
                        },
                        None,
                    ),
                    Err(response) => return response,
                }
            }
        }
        "roster" => {
            let dry_run = upload.get("dry_run").is_some();
            match import(&state, &principal, t, file_name, bytes, dry_run).await {
                Ok(outcome) => outcome,
                Err(response) => return response,
            }
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    render(
        &state,
        &signed_in,
        t,
        false,
        year,
        Some(notice),
        extra,
        position,
    )
    .await
}

type Outcome = (Notice, Extra, Option<u64>);

/// Adopts `rules` (its `document` as read from the file) as the committee.
async fn adopt(
    state: &AppState,
    principal: &allweather_domain::Principal,
    t: &'static Text,
    document: serde_json::Value,
    rules: &Rules,
    key: &str,
) -> Outcome {
    let refused = |field, sentence| {
        (
            Notice::refused("rules".into(), field, sentence),
            Extra::default(),
            None,
        )
    };
    let Ok(year) = Year::new(i64::from(rules.year)) else {
        return refused(Some("year".into()), t.invalid_field.to_owned());
    };
    let adopt = AdoptRules {
        year,
        rules: document,
    };
    match state.commands.submit(principal, adopt, Some(key)).await {
        Ok(reply) => (
            Notice::done("rules".into(), t.done.to_owned()),
            Extra::default(),
            Some(reply.position),
        ),
        Err(e) => {
            let (field, sentence) = super::refusal(t, &e);
            refused(field, sentence)
        }
    }
}

/// The year of `proposed` judged under it and under the rules in force, as the read
/// models stand: what would change.
async fn reassess(
    state: &AppState,
    t: &'static Text,
    proposed: &Rules,
) -> Result<Reassessed, Response> {
    let pool = state.read.pool();
    let read = async {
        Ok::<_, sqlx::Error>((
            scorecard::rules(pool, proposed.year).await?,
            scorecard::book(pool, proposed.year, None).await?,
        ))
    };
    let (in_force, book) = read
        .await
        .map_err(|e| crate::routes::read_error(e).into_response())?;
    let Some(in_force) = in_force else {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, t.no_rules_in_force).into_response());
    };
    let c = assessment::compare(&book, &in_force, proposed);
    Ok(Reassessed {
        members_changed: c.members_changed,
        branches_changed: c.branches_changed,
        changes: c
            .changes
            .into_iter()
            .map(|change| Change {
                kind: change.kind.to_string(),
                name: change.name,
                before: change.before,
                after: change.after,
                criteria: change
                    .criteria
                    .iter()
                    .map(|(criterion, old, new)| {
                        format!("{}: {old} → {new}", t.criterion(criterion))
                    })
                    .collect(),
                contradicted: change.contradicted,
                reconciled: change.reconciled,
            })
            .collect(),
    })
}

/// Checks the roster in `bytes` and, unless `dry_run`, sends its commands as `principal`.
async fn import(
    state: &AppState,
    principal: &allweather_domain::Principal,
    t: &'static Text,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<Outcome, Response> {
    let refused = |problems: Vec<String>| {
        (
            Notice::refused("roster".into(), None, t.file_has_problems.to_owned()),
            Extra {
                problems,
                ..Extra::default()
            },
            None,
        )
    };
    let roster = match Roster::read(&[(file_name.to_owned(), bytes.to_vec())]) {
        Ok(roster) => roster,
        Err(e) => return Ok(refused(vec![format!("{file_name}: {e}")])),
    };
    let today = super::member::this_year(state).1;
    let known = match roster::registered(&state.commands).await {
        Ok(known) => known,
        Err(e) => return Err(crate::problem::ApiError::from(CommandError::from(e)).into_response()),
    };
    let plan = match roster::plan(&roster, &known, today) {
        Ok(plan) => plan,
        Err(problems) => {
            return Ok(refused(problems.iter().map(ToString::to_string).collect()));
        }
    };
    if dry_run {
        let sentence = format!(
            "{} {} / {} · {} {} / {}",
            t.roster_reads_well,
            roster.branch_rows(),
            plan.new_branches(),
            t.members,
            roster.member_rows(),
            plan.new_members()
        );
        return Ok((
            Notice::done("roster".into(), sentence),
            Extra::default(),
            None,
        ));
    }
    match roster::import(&state.commands, principal, &plan).await {
        Ok(imported) => {
            let problems: Vec<String> = imported.refused.iter().map(ToString::to_string).collect();
            let sentence = format!("{} {}", t.roster_imported, imported.appended);
            let notice = if problems.is_empty() {
                Notice::done("roster".into(), sentence)
            } else {
                Notice::refused("roster".into(), None, sentence)
            };
            Ok((
                notice,
                Extra {
                    problems,
                    ..Extra::default()
                },
                Some(imported.head),
            ))
        }
        Err(e) => Err(crate::problem::ApiError::from(e).into_response()),
    }
}

/// An account's line.
struct AccountLine {
    account_id: String,
    login: String,
    role: &'static str,
    name: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage<'a> {
    t: &'static Text,
    nav: Vec<(&'static str, &'static str)>,
    here: &'static str,
    csrf: &'a str,
    key: String,
    accounts: Vec<AccountLine>,
    roles: [(&'static str, &'static str); 3],
    notice: Option<Notice>,
}

/// Every account (the committee): its sign-in name, role, member and whether it is
/// disabled, with a form to disable it; a form to give a role's account.
pub(super) async fn accounts(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    let principal = signed_in.session.account.principal();
    let rows = match state.commands.accounts(&principal).await {
        Ok(rows) => rows,
        Err(e @ (CommandError::Refused(_) | CommandError::Forbidden(_))) => {
            return super::not_permitted(t, e);
        }
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    if let Err(response) = super::reached(state, &[scorecard::NAME], min_position).await {
        return response;
    }
    let names = match scorecard::member_names(state.read.pool()).await {
        Ok(names) => names,
        Err(e) => return crate::routes::read_error(e).into_response(),
    };
    let status = Notice::status(notice.as_ref());
    let rendered = AccountsPage {
        t,
        nav: super::nav(t, &signed_in.session.account),
        here: "/committee/accounts",
        csrf: &signed_in.session.csrf,
        key: form_key(),
        accounts: rows
            .into_iter()
            .map(|a| AccountLine {
                account_id: a.account_id.to_string(),
                login: a.login.unwrap_or_default(),
                role: t.role(&a.role),
                name: a
                    .member_id
                    .and_then(|m| names.get(&m.to_string()).cloned())
                    .unwrap_or_default(),
                disabled: a.disabled,
            })
            .collect(),
        roles: [
            ("committee_admin", t.role("committee_admin")),
            ("service_centre", t.role("service_centre")),
            ("auditor", t.role("auditor")),
        ],
        notice,
    }
    .render();
    page(status, rendered)
}

async fn accounts_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
) -> Response {
    accounts(&state, &signed_in, lang.text(), None, None).await
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    key: String,
    role: String,
}

/// Gives an account of a role (a committee admin): a sheet with its sign-in code.
async fn invite(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let role = match form.role.as_str() {
        "committee_admin" => Role::CommitteeAdmin,
        "service_centre" => Role::ServiceCentre,
        "auditor" => Role::Auditor,
        _ => {
            let notice = Notice::refused(
                "invite".into(),
                Some("role".into()),
                t.invalid_field.to_owned(),
            );
            return accounts(&state, &signed_in, t, Some(notice), None).await;
        }
    };
    let invite = InviteAccount {
        member_id: None,
        role: Some(role),
        account_id: None,
    };
    let principal = signed_in.session.account.principal();
    match state
        .commands
        .invite_account(&principal, invite, Some(&format!("{}-invite", form.key)))
        .await
    {
        Ok(invitation) => super::code_sheet(
            &state,
            t,
            &headers,
            "/committee/accounts",
            t.role(role.as_str()),
            &invitation,
        ),
        Err(CommandError::Internal(e)) => {
            crate::problem::ApiError::from(CommandError::Internal(e)).into_response()
        }
        Err(e) => {
            let (field, sentence) = super::refusal(t, &e);
            let notice = Notice::refused("invite".into(), field, sentence);
            accounts(&state, &signed_in, t, Some(notice), None).await
        }
    }
}
