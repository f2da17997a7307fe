//! Every page's form is a command: `POST /act/{command}` reads the form's fields as the
//! command's body, typed by the command's JSON Schema (a number field becomes a number, a
//! repeated list field a list, `a.b` a nested field, an empty field is left out), and sends
//! it through the command service as the signed-in person, in the capacity of the page the
//! form is on (`back`: a branch's page acts as its secretary). A scalar field given more
//! than once sends one command per value (verify the ticked records, issue the chosen
//! cards), each decided on its own with the form's key and the value as idempotency key.
//! The page comes back with the outcome beside the form (`form` names it): done, or the
//! first refusal's sentence and field.
//!
//! Besides the command's fields a form carries `csrf` (the session's token), `key` (its
//! idempotency key), `back` (the page it is on) and `form` (which of its forms).

use super::{Notice, PageLang, SignedIn, csrf_matches, forged, page_for};
use crate::AppState;
use allweather_command::CommandError;
use allweather_domain::Command;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_extra::extract::Form;
use chrono::{FixedOffset, NaiveDateTime};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/act/{command}", post(act))
}

/// The fields a form carries beside the command's.
const RESERVED: &[&str] = &["csrf", "key", "back", "form"];

/// Commands a page sends through a form of its own, because they answer with more than
/// an outcome (a sign-in code to print).
const OWN_FORMS: &[&str] = &["InviteAccount"];

/// What a schema says a field holds.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text,
    /// An instant: a form's `datetime-local` is county time.
    Instant,
    Integer,
    Number,
    Boolean,
    List(Box<Kind>),
}

/// Every command's schema, by name.
fn schemas() -> &'static HashMap<&'static str, Value> {
    static SCHEMAS: OnceLock<HashMap<&'static str, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| Command::schemas().into_iter().collect())
}

/// `schema` with any reference followed and a nullable choice reduced to its value.
fn resolved<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        && let Some(def) = root.get("$defs").and_then(|d| d.get(name))
    {
        return resolved(root, def);
    }
    for choice in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(choice)
            .and_then(Value::as_array)
            .and_then(|options| options.iter().find(|o| o["type"] != "null"))
        {
            return resolved(root, first);
        }
    }
    schema
}

fn kind(root: &Value, schema: &Value) -> Kind {
    let schema = resolved(root, schema);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"array") {
        Kind::List(Box::new(kind(root, &schema["items"])))
    } else if types.contains(&"integer") {
        Kind::Integer
    } else if types.contains(&"number") {
        Kind::Number
    } else if types.contains(&"boolean") {
        Kind::Boolean
    } else if schema["format"] == "date-time" {
        Kind::Instant
    } else {
        Kind::Text
    }
}

/// The schema of the field at `path` (`a.b`), if the command has one.
fn field_schema<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |schema, part| {
        schema
            .get("properties")
            .or_else(|| resolved(root, schema).get("properties"))?
            .get(part)
    })
}

/// A typed value as the form gave it (a time without an offset in the county's); what
/// does not read as its type stays text, so the command's own reading names the field.
fn typed(kind: &Kind, given: &str, county: FixedOffset) -> Value {
    let given = given.trim();
    let text = || Value::String(given.to_owned());
    match kind {
        Kind::Integer => given.parse::<i64>().map_or_else(|_| text(), Value::from),
        Kind::Number => given
            .replace('．', ".")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(text, Value::Number),
        Kind::Boolean => match given {
            "true" | "on" | "yes" | "1" => Value::Bool(true),
            "false" | "off" | "no" | "0" => Value::Bool(false),
            _ => text(),
        },
        Kind::Instant => ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(given, format).ok())
            .and_then(|local| local.and_local_timezone(county).single())
            .map_or_else(text, |at| Value::String(at.to_rfc3339())),
        Kind::Text | Kind::List(_) => text(),
    }
}

/// Sets `path` (`a.b`) in `body`.
fn set(body: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            body.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = body
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                set(inner, rest, value);
            }
        }
    }
}

/// A form that cannot become a command: the field and why.
type Unreadable = (String, String);

/// The bodies `fields` make for the command `schema`: one, or one per value of the one
/// scalar field given more than once (with that value).
fn bodies(
    schema: &Value,
    fields: &[(String, String)],
    county: FixedOffset,
) -> Result<Vec<(String, Value)>, Unreadable> {
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in fields {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        match grouped.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let mut body = Map::new();
    let mut each: Option<(&str, Kind, Vec<&str>)> = None;
    for (name, values) in grouped {
        let kind = field_schema(schema, name).map_or(Kind::Text, |s| kind(schema, s));
        let given: Vec<&str> = values
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .collect();
        match (&kind, given.as_slice()) {
            (Kind::List(item), _) => {
                let list = given.iter().map(|v| typed(item, v, county)).collect();
                set(&mut body, name, Value::Array(list));
            }
            (_, []) => {}
            (_, [one]) => set(&mut body, name, typed(&kind, one, county)),
            (_, _) if each.is_none() => each = Some((name, kind, given)),
            _ => {
                return Err((
                    name.to_owned(),
                    "only one field of a form may be chosen more than once".into(),
                ));
            }
        }
    }
    Ok(match each {
        None => vec![(String::new(), Value::Object(body))],
        Some((name, kind, values)) => values
            .into_iter()
            .map(|v| {
                let mut one = body.clone();
                set(&mut one, name, typed(&kind, v, county));
                (v.to_owned(), Value::Object(one))
            })
            .collect(),
    })
}

async fn act(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    signed_in: SignedIn,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let given = |field: &str| {
        fields
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, v)| v.as_str())
    };
    if !csrf_matches(&signed_in.session.csrf, given("csrf").unwrap_or_default()) {
        return forged(lang);
    }
    let t = lang.text();
    let Some(place) = given("back").and_then(super::Place::parse) else {
        return (StatusCode::BAD_REQUEST, t.form_expired).into_response();
    };
    let schema = match schemas().get(name.as_str()) {
        Some(schema) if !OWN_FORMS.contains(&name.as_str()) => schema,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let form = given("form").unwrap_or(&name).to_owned();
    let key = given("key").map_or_else(super::form_key, str::to_owned);
    let principal = place.principal(&signed_in.session.account);
    let bodies = match bodies(schema, &fields, state.commands.options().county_offset) {
        Ok(bodies) => bodies,
        Err((field, message)) => {
            let (field, sentence) = super::refusal(t, &CommandError::field(field, message));
            let notice = Notice::refused(form, field, sentence);
            return page_for(&state, &signed_in, t, &place, Some(notice), None).await;
        }
    };
    let many = bodies.len() > 1;
    let (mut done, mut refusal, mut position, mut skipped) = (0usize, None, None, 0usize);
    for (value, body) in bodies {
        let key = if value.is_empty() {
            key.clone()
        } else {
            format!("{key}-{value}")
        };
        let body = body.to_string();
        match state
            .commands
            .execute(&principal, &name, Some(&key), body.as_bytes())
            .await
        {
            Ok(reply) => {
                done += 1;
                position = Some(reply.position);
                // A command for many (every member's card) says whom it left out.
                skipped += reply.skipped.map_or(0, |s| s.len());
            }
            Err(CommandError::Internal(e)) => {
                return crate::problem::ApiError::from(CommandError::Internal(e)).into_response();
            }
            Err(e) => {
                refusal.get_or_insert_with(|| super::refusal(t, &e));
            }
        }
    }
    let notice = match refusal {
        None if many => Notice::done(form, format!("{done}{}", t.done_n)),
        None => Notice::done(form, t.done.to_owned()),
        Some((field, sentence)) if many => {
            Notice::refused(form, field, format!("{done}{} {sentence}", t.done_n))
        }
        Some((field, sentence)) => Notice::refused(form, field, sentence),
    };
    let notice = if skipped > 0 {
        Notice {
            sentence: format!("{} {skipped}{}", notice.sentence, t.skipped_n),
            ..notice
        }
    } else {
        notice
    };
    page_for(&state, &signed_in, t, &place, Some(notice), position).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn east8() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("an offset")
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_is_typed_by_the_commands_schema() {
        let schema = &schemas()["LogServiceHours"];
        let got = bodies(
            schema,
            &form(&[
                ("csrf", "x"),
                ("member_id", "0191e5a4-0000-7000-8000-000000000001"),
                ("hours", "1.5"),
                ("date", "2026-03-01"),
                ("campaign_id", ""),
                ("activity", " swept "),
            ]),
            east8(),
        )
        .expect("readable");
        assert_eq!(
            got,
            vec![(
                String::new(),
                serde_json::json!({"member_id": "0191e5a4-0000-7000-8000-000000000001",
                    "hours": 1.5, "date": "2026-03-01", "activity": "swept"})
            )]
        );
        let meeting = bodies(
            &schemas()["RecordBranchMeeting"],
            &form(&[("attendees", "a"), ("attendees", "b"), ("date", "x")]),
            east8(),
        )
        .expect("readable");
        assert_eq!(meeting[0].1["attendees"], serde_json::json!(["a", "b"]));
        let stars = bodies(
            &schemas()["AwardStars"],
            &form(&[("stars", "three")]),
            east8(),
        )
        .expect("readable");
        assert_eq!(stars[0].1["stars"], "three", "left for the command to name");
    }

    #[test]
    fn a_scalar_chosen_more_than_once_is_a_command_each() {
        let schema = &schemas()["IssueDualCard"];
        let got = bodies(
            schema,
            &form(&[("year", "2026"), ("member_id", "a"), ("member_id", "b")]),
            east8(),
        )
        .expect("readable");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, "b");
        assert_eq!(
            got[1].1,
            serde_json::json!({"year": 2026, "member_id": "b"})
        );
        let two = bodies(
            schema,
            &form(&[
                ("year", "1"),
                ("year", "2"),
                ("member_id", "a"),
                ("member_id", "b"),
            ]),
            east8(),
        );
        assert_eq!(two.map_err(|(f, _)| f), Err("member_id".to_owned()));
    }

    #[test]
    fn a_time_without_an_offset_is_the_countys() {
        let got = bodies(
            &schemas()["PublishWish"],
            &form(&[("deadline", "2026-12-20T18:00"), ("volunteers", "3")]),
            east8(),
        )
        .expect("readable");
        assert_eq!(got[0].1["deadline"], "2026-12-20T18:00:00+08:00");
        assert_eq!(got[0].1["volunteers"], 3);
    }
}
