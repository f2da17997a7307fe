//! The platform: the pages people do their year's work on, signed in (see
//! `allweather_command::accounts`). Rendered on the server from typed templates
//! (`templates/`, askama), Chinese first with an English switch, readable at 360 px; the
//! script and style sheet are files `serve` itself serves (`assets/`), so the content
//! security policy allows no inline script.
//!
//! A page never writes around a command: each form is a command sent through the command
//! service as the signed-in person (`account:{id}`), with the same permission checks and
//! events as the API; a refusal is shown as its rule's sentence beside the form. Every form
//! carries a CSRF token: a session's own once signed in, and before that a random value
//! also set as a cookie (double submit). Each form also carries an idempotency key of its
//! own, so that sending it twice appends once.
//!
//! - `signin`: `/signin` (a code at `/signin?code=…`), signing out (here, everywhere);
//! - `member`: `/my`, the member's year, open wishes to claim, hours to log;
//! - `branch`: `/branches/{id}`, a branch's work for its secretary: hours to verify, roster;
//! - `live`: what a page follows while open (wishes claimed elsewhere leave the open list).

mod act;
mod branch;
mod centre;
mod committee;
mod live;
mod member;
mod signin;
pub(crate) mod text;

use crate::AppState;
use allweather_command::CommandError;
use allweather_command::accounts::{Account, Session};
use allweather_domain::Principal;
use allweather_events::Role;
use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use text::{Lang, Text};
use uuid::Uuid;

/// The cookie holding the session's secret.
const SESSION_COOKIE: &str = "aw_session";

/// The cookie holding a signed-out form's CSRF token.
const FORM_COOKIE: &str = "aw_form";

/// The platform's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/platform.css", get(style))
        .route("/assets/platform.js", get(script))
        .route("/lang", get(switch_lang))
        .merge(act::routes())
        .merge(signin::routes())
        .merge(member::routes())
        .merge(branch::routes())
        .merge(committee::routes())
        .merge(centre::routes())
        .merge(live::routes())
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/platform.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/platform.js"),
    )
}

/// Where the language switch returns to, and to which language.
#[derive(Debug, serde::Deserialize)]
struct Switch {
    to: String,
    back: Option<String>,
}

async fn switch_lang(
    jar: CookieJar,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<Switch>,
) -> (CookieJar, Redirect) {
    let lang = if q.to == "en" { "en" } else { "zh" };
    let back = q
        .back
        .filter(|b| local_path(b))
        .unwrap_or_else(|| "/my".into());
    let cookie = cookie(&headers, Lang::COOKIE, lang.to_owned(), false);
    (jar.add(cookie), Redirect::to(&back))
}

/// A path on this site: `/…`, never `//host` nor a scheme.
fn local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\')
}

/// Whether the request reached the service over TLS (through a proxy that says so).
pub(super) fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A cookie for the whole site, `HttpOnly`, `SameSite=Lax`, `Secure` over TLS; a
/// session's lives as long as the session.
fn cookie(
    headers: &HeaderMap,
    name: &'static str,
    value: String,
    session: bool,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(over_tls(headers));
    if session {
        c = c.max_age(
            cookie::time::Duration::try_from(allweather_command::accounts::SESSION_LIFETIME)
                .unwrap_or(cookie::time::Duration::DAY),
        );
    }
    c.build()
}

/// The visitor's language.
pub(crate) struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_request_parts(parts, state).await?;
        Ok(PageLang(Lang::of(jar.get(Lang::COOKIE).map(Cookie::value))))
    }
}

/// The signed-in person, from the session cookie; a page without one sends the visitor
/// to `/signin`.
pub(crate) struct SignedIn {
    pub session: Session,
    /// The cookie's secret (to sign out).
    pub secret: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match <SignedIn as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?
        {
            Some(signed_in) => Ok(signed_in),
            None => Err(Redirect::to("/signin").into_response()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(secret) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Ok(None);
        };
        match state.commands.session(&secret).await {
            Ok(Some(session)) => Ok(Some(SignedIn { session, secret })),
            Ok(None) => Ok(None),
            Err(e) => Err(crate::problem::ApiError::from(e).into_response()),
        }
    }
}

/// Whether a form's CSRF token is the expected one (compared in constant time).
fn csrf_matches(expected: &str, given: &str) -> bool {
    use sha2::Digest as _;
    let (a, b) = (
        sha2::Sha256::digest(expected.as_bytes()),
        sha2::Sha256::digest(given.as_bytes()),
    );
    !expected.is_empty()
        && a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A form refused for its CSRF token: 403, and nothing done.
fn forged(lang: Lang) -> Response {
    (StatusCode::FORBIDDEN, Html(format!(
        "<!doctype html><meta charset=utf-8><title>403</title><p>{}</p><p><a href=\"/my\">↩</a></p>",
        lang.text().form_expired
    )))
        .into_response()
}

/// A rendered template as a page (an error while rendering is an internal error).
fn page(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::problem::ApiError::from(anyhow::Error::new(e).context("render a page"))
            .into_response(),
    }
}

/// A fresh idempotency key for a form.
fn form_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Where an account's work starts: a member's year, or its role's page.
pub(crate) fn home(account: &Account) -> &'static str {
    match account.role {
        Role::CommitteeAdmin => "/committee",
        Role::ServiceCentre => "/centre",
        Role::Auditor => "/audit",
        _ => "/my",
    }
}

/// The links every signed-in page shows: the account's pages by its role (the committee
/// also does the service centre's work).
pub(crate) fn nav(t: &'static Text, account: &Account) -> Vec<(&'static str, &'static str)> {
    match account.role {
        Role::CommitteeAdmin => vec![
            ("/committee", t.committee),
            ("/committee/accounts", t.accounts),
            ("/centre", t.centre),
        ],
        Role::ServiceCentre => vec![("/centre", t.centre)],
        Role::Auditor => vec![("/audit", t.audit)],
        _ => vec![("/my", t.my_year)],
    }
}

/// A form's outcome, shown beside it.
pub(crate) struct Notice {
    /// Which form of the page (its `form` field).
    pub form: String,
    /// The field at fault, if one is.
    pub field: Option<String>,
    /// The sentence.
    pub sentence: String,
    pub ok: bool,
}

impl Notice {
    pub(super) fn done(form: String, sentence: String) -> Notice {
        Notice {
            form,
            field: None,
            sentence,
            ok: true,
        }
    }

    pub(super) fn refused(form: String, field: Option<String>, sentence: String) -> Notice {
        Notice {
            form,
            field,
            sentence,
            ok: false,
        }
    }

    /// Whether it is `form`'s.
    pub fn of(&self, form: &str) -> bool {
        self.form == form
    }

    /// The status of a page showing `notice`: 422 when a form was refused.
    pub(super) fn status(notice: Option<&Notice>) -> StatusCode {
        match notice {
            Some(n) if !n.ok => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::OK,
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

/// A page a form is on: where it returns to, and in which capacity its commands go.
pub(crate) enum Place {
    /// `/my`.
    My,
    /// `/committee`, for a year.
    Committee { year: Option<i32> },
    /// `/committee/accounts`.
    Accounts,
    /// `/centre`.
    Centre,
    /// `/branches/{id}`, for a year (`?year=`).
    Branch { id: Uuid, year: Option<i32> },
}

impl Place {
    /// From the page's path (`back`).
    fn parse(back: &str) -> Option<Place> {
        let (path, query) = back.split_once('?').unwrap_or((back, ""));
        let year = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("year="))
            .and_then(|y| y.parse().ok());
        match path.trim_end_matches('/').split('/').collect::<Vec<_>>()[..] {
            ["", "my"] => Some(Place::My),
            ["", "committee"] => Some(Place::Committee { year }),
            ["", "committee", "accounts"] => Some(Place::Accounts),
            ["", "centre"] => Some(Place::Centre),
            ["", "branches", id] => Some(Place::Branch {
                id: id.parse().ok()?,
                year,
            }),
            _ => None,
        }
    }

    /// The capacity `account` acts in here: on a branch's page a member as its secretary.
    fn principal(&self, account: &Account) -> Principal {
        match self {
            Place::Branch { id, .. } => branch::acting_for(account, *id),
            Place::My | Place::Committee { .. } | Place::Accounts | Place::Centre => {
                account.principal()
            }
        }
    }
}

/// The page `place` as `signed_in` sees it, with a form's outcome, reflecting at least
/// `min_position`.
async fn page_for(
    state: &AppState,
    signed_in: &SignedIn,
    t: &'static Text,
    place: &Place,
    notice: Option<Notice>,
    min_position: Option<u64>,
) -> Response {
    match place {
        Place::My => member::render(state, signed_in, t, notice, min_position).await,
        Place::Committee { year } => {
            let extra = committee::Extra::default();
            committee::render(
                state,
                signed_in,
                t,
                false,
                *year,
                notice,
                extra,
                min_position,
            )
            .await
        }
        Place::Accounts => committee::accounts(state, signed_in, t, notice, min_position).await,
        Place::Centre => centre::render(state, signed_in, t, notice, min_position).await,
        Place::Branch { id, year } => {
            branch::render(state, signed_in, t, *id, *year, notice, min_position).await
        }
    }
}

/// A page refused to the signed-in person: 403 and the reason as a sentence, nothing read.
fn not_permitted(t: &'static Text, e: CommandError) -> Response {
    match e {
        CommandError::Refused(_) | CommandError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            Html(format!(
                "<!doctype html><html lang=\"{}\"><meta charset=utf-8><title>403</title><main><p role=\"alert\">{}</p><p><a href=\"/my\">↩</a></p></main></html>",
                t.html_lang, t.not_permitted
            )),
        )
            .into_response(),
        e => crate::problem::ApiError::from(e).into_response(),
    }
}

/// A sign-in code, printable: the person's name, the code, its link as a QR code.
#[derive(askama::Template)]
#[template(path = "signin_code.html")]
struct CodeSheet<'a> {
    t: &'static Text,
    here: &'a str,
    name: &'a str,
    code: &'a str,
    link: String,
    qr: String,
    until: String,
}

/// The address people reach the platform at, as this request came in.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if over_tls(headers) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The sheet of a new sign-in code for `name`, to print or show: the code, its link and
/// the link as a QR code; `back` is the page it was given from.
fn code_sheet(
    state: &AppState,
    t: &'static Text,
    headers: &HeaderMap,
    back: &str,
    name: &str,
    invitation: &allweather_command::accounts::Invitation,
) -> Response {
    use askama::Template as _;
    let link = format!("{}/signin?code={}", base_url(headers), invitation.code);
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
        here: back,
        name,
        code: &invitation.code,
        link,
        qr,
        until,
    }
    .render();
    page(StatusCode::OK, rendered)
}

/// Waits until each read model of `names` this service runs has applied `min_position`
/// (a command's reply position), so that a page shown after a command reflects it; the
/// position the first has applied.
async fn reached(
    state: &AppState,
    names: &[&str],
    min_position: Option<u64>,
) -> Result<u64, Response> {
    let mut position = None;
    for name in names {
        if let Ok(progress) = state.progress(name) {
            crate::routes::reach(progress, min_position)
                .await
                .map_err(IntoResponse::into_response)?;
            position.get_or_insert(progress.position());
        }
    }
    Ok(position.unwrap_or_default())
}
