//! Signing in and out: `/signin` (name and password), `/signin?code=…` (a first sign-in or
//! a reset with a one-time code: choose a name and a password), `/signout` and
//! `/signout/everywhere`. Signing in always opens a new session, whatever cookie the
//! browser brought (no session fixation), and ends the one it had.

use super::text::Text;
use super::{FORM_COOKIE, PageLang, SESSION_COOKIE, SignedIn, cookie, csrf_matches, forged, page};
use crate::AppState;
use allweather_command::accounts::{NewSession, SignInError};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(signin_page).post(signin))
        .route("/signin/code", post(set_password))
        .route("/signout", post(signout))
        .route("/signout/everywhere", post(signout_everywhere))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage<'a> {
    t: &'static Text,
    here: &'a str,
    csrf: &'a str,
    login: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage<'a> {
    t: &'static Text,
    here: &'a str,
    csrf: &'a str,
    code: &'a str,
    login: &'a str,
    /// What the code is for, or none when it cannot be used.
    valid: bool,
    error: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// The form's CSRF token: the one the browser holds, or a new one set as a cookie.
fn form_token(jar: CookieJar, headers: &HeaderMap) -> (CookieJar, String) {
    if let Some(token) = jar.get(FORM_COOKIE).map(|c| c.value().to_owned()) {
        return (jar, token);
    }
    let token = super::form_key();
    let jar = jar.add(cookie(headers, FORM_COOKIE, token.clone(), false));
    (jar, token)
}

async fn signin_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    jar: CookieJar,
    headers: HeaderMap,
    Query(q): Query<CodeQuery>,
) -> Response {
    let (jar, csrf) = form_token(jar, &headers);
    let t = lang.text();
    let rendered = match q.code.as_deref() {
        Some(code) => {
            let valid = match state.commands.account_of_code(code).await {
                Ok(account) => account.is_some(),
                Err(e) => return crate::problem::ApiError::from(e).into_response(),
            };
            CodePage {
                t,
                here: "/signin",
                csrf: &csrf,
                code,
                login: "",
                valid,
                error: (!valid).then_some(("code", t.no_such_code)),
            }
            .render()
        }
        None => SigninPage {
            t,
            here: "/signin",
            csrf: &csrf,
            login: "",
            error: None,
        }
        .render(),
    };
    (jar, page(StatusCode::OK, rendered)).into_response()
}

#[derive(Deserialize)]
struct SigninForm {
    csrf: String,
    login: String,
    password: String,
}

/// Whether a signed-out form carries the token its browser holds.
fn form_is_genuine(jar: &CookieJar, given: &str) -> bool {
    jar.get(FORM_COOKIE)
        .is_some_and(|expected| csrf_matches(expected.value(), given))
}

/// The sentence for a refused sign-in.
fn sentence(t: &'static Text, e: &SignInError) -> &'static str {
    match e {
        SignInError::WrongCredentials => t.wrong_credentials,
        SignInError::LockedOut { .. } => t.locked_out,
        SignInError::NoSuchCode => t.no_such_code,
        SignInError::BadLogin => t.bad_login,
        SignInError::LoginTaken => t.login_taken,
        SignInError::WeakPassword => t.weak_password,
    }
}

/// Signed in: the new session's cookie, the old session (if any) ended, on to the
/// account's home page.
async fn signed_in(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    session: NewSession,
) -> Response {
    if let Some(old) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())
        && let Err(e) = state.commands.sign_out(&old).await
    {
        return crate::problem::ApiError::from(e).into_response();
    }
    let home = super::home(&session.account);
    let jar = jar
        .add(cookie(headers, SESSION_COOKIE, session.secret, true))
        .remove(FORM_COOKIE);
    (jar, Redirect::to(home)).into_response()
}

async fn signin(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<SigninForm>,
) -> Response {
    if !form_is_genuine(&jar, &form.csrf) {
        return forged(lang);
    }
    match state.commands.sign_in(&form.login, &form.password).await {
        Ok(Ok(session)) => signed_in(&state, jar, &headers, session).await,
        Ok(Err(e)) => {
            let t = lang.text();
            let rendered = SigninPage {
                t,
                here: "/signin",
                csrf: &form.csrf,
                login: &form.login,
                error: Some(sentence(t, &e)),
            }
            .render();
            let status = match e {
                SignInError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            page(status, rendered)
        }
        Err(e) => crate::problem::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
    login: String,
    password: String,
    password_again: String,
}

async fn set_password(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if !form_is_genuine(&jar, &form.csrf) {
        return forged(lang);
    }
    let t = lang.text();
    let refuse = |field: &'static str, sentence: &'static str| {
        let rendered = CodePage {
            t,
            here: "/signin",
            csrf: &form.csrf,
            code: &form.code,
            login: &form.login,
            valid: true,
            error: Some((field, sentence)),
        }
        .render();
        page(StatusCode::UNPROCESSABLE_ENTITY, rendered)
    };
    if form.password != form.password_again {
        return refuse("password_again", t.passwords_differ);
    }
    match state
        .commands
        .set_password(&form.code, &form.login, &form.password)
        .await
    {
        Ok(Ok(session)) => signed_in(&state, jar, &headers, session).await,
        Ok(Err(e)) => refuse(e.field(), sentence(t, &e)),
        Err(e) => crate::problem::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct SignoutForm {
    csrf: String,
}

async fn signout(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    jar: CookieJar,
    Form(form): Form<SignoutForm>,
) -> Response {
    end(&state, lang, signed_in, jar, &form.csrf, false).await
}

async fn signout_everywhere(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    jar: CookieJar,
    Form(form): Form<SignoutForm>,
) -> Response {
    end(&state, lang, signed_in, jar, &form.csrf, true).await
}

/// Ends this session, or (`everywhere`) every session of the account; on to `/signin`.
async fn end(
    state: &AppState,
    lang: super::text::Lang,
    signed_in: SignedIn,
    jar: CookieJar,
    csrf: &str,
    everywhere: bool,
) -> Response {
    if !csrf_matches(&signed_in.session.csrf, csrf) {
        return forged(lang);
    }
    let ended = if everywhere {
        let account = signed_in.session.account.account_id;
        state.commands.sign_out_everywhere(account).await
    } else {
        state.commands.sign_out(&signed_in.secret).await
    };
    if let Err(e) = ended {
        return crate::problem::ApiError::from(e).into_response();
    }
    (jar.remove(SESSION_COOKIE), Redirect::to("/signin")).into_response()
}
