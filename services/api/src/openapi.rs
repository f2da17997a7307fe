//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated when first asked for:
//! every command's path and body schema from the domain's command types (their doc
//! comments are the descriptions), every query from the route list the router itself is
//! built from — its parameters from the query's type (the ranges, formats and enums the
//! server checks), its answer from the answer's type. What JSON Schema cannot say of
//! query parameters, pairs a request gives one of, is the operation's
//! `x-exclusive-parameters`. And `/api/v1/schemas`: the JSON Schema of every event type's
//! payload. `services/api/tests/api/contract.rs` holds the server to the document.

use crate::routes::queries;
use allweather_command::CommandReply;
use allweather_command::problem::Problem;
use allweather_domain::{Command, Event};
use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// `GET /api/v1/openapi.json`.
pub(crate) async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

/// The schemas of the log's events and of the commands' bodies.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Schemas {
    /// Each event type's payload schema, in its current schema version.
    events: BTreeMap<String, EventSchema>,
    /// Each command's body schema (JSON Schema 2020-12).
    commands: BTreeMap<String, Value>,
}

/// An event type's payload schema.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EventSchema {
    /// The schema version new events of the type are written in.
    schema_version: u32,
    /// The payload's JSON Schema (2020-12).
    schema: Value,
}

/// `GET /api/v1/schemas`: each event type's payload schema (with its schema version),
/// and each command's body schema.
pub(crate) async fn schemas() -> Json<Schemas> {
    let events = Event::schemas()
        .into_iter()
        .map(|(name, schema)| {
            let schema_version = Event::SPECS
                .iter()
                .find(|s| s.event_type == name)
                .map_or(1, |s| s.schema_version);
            (
                name.to_owned(),
                EventSchema {
                    schema_version,
                    schema,
                },
            )
        })
        .collect();
    let commands = Command::schemas()
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    Json(Schemas { events, commands })
}

/// Moves a schemars root schema's `$defs` out (into the document's components) and points
/// its references there.
fn hoist(mut schema: Value, components: &mut Map<String, Value>) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            for (name, mut def) in defs {
                repoint(&mut def);
                components.insert(name, def);
            }
        }
    }
    repoint(&mut schema);
    schema
}

fn repoint(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, v) in object.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{name}");
                        }
                    }
                    _ => repoint(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(repoint),
        _ => {}
    }
}

/// A schema of an optional query parameter without its `null`: a parameter is left out,
/// never sent as null.
fn without_null(mut schema: Value) -> Value {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            schema["type"] = only;
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf").cloned() {
        let rest: Vec<Value> = any
            .into_iter()
            .filter(|s| s.get("type").is_none_or(|t| t != "null"))
            .collect();
        if let [only] = rest.as_slice() {
            let mut only = only.clone();
            if let (Some(object), Some(description)) =
                (only.as_object_mut(), schema.get("description"))
            {
                object.insert("description".into(), description.clone());
            }
            return only;
        }
    }
    schema
}

/// The parameters of a query string: each property of its type's schema.
fn query_parameters(schema: &Value) -> Vec<Value> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    let mut property = without_null(property.clone());
                    let description = property
                        .as_object_mut()
                        .and_then(|o| o.remove("description"))
                        .unwrap_or_default();
                    json!({"name": name, "in": "query", "required": required.contains(&name.as_str()),
                           "description": description, "schema": property})
                })
                .collect()
        })
        .unwrap_or_default()
}

fn build() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "#/components/schemas/".into();
    }));
    let problem = generator.subschema_for::<Problem<'static>>().to_value();
    let reply = generator.subschema_for::<CommandReply>().to_value();
    let mut components = Map::new();
    let problem_responses = |statuses: &[(&str, &str)]| -> Map<String, Value> {
        statuses
            .iter()
            .map(|(status, what)| {
                let body = json!({"description": what, "content": {"application/problem+json": {
                    "schema": problem}}});
                ((*status).to_owned(), body)
            })
            .collect()
    };
    let mut paths = Map::new();
    let refusals = [
        ("400", "malformed: bad JSON, a wrong type, an unknown field"),
        ("401", "unauthenticated: a missing, expired or forged token"),
        ("403", "forbidden: the token's holder may not"),
        ("404", "not_found: what the command acts on does not exist"),
        (
            "409",
            "conflict: already claimed, already signed, a duplicate",
        ),
        ("413", "too_large: the body is too large"),
        (
            "422",
            "invalid: a rule of the programme; idempotency_key_reused: the key first came with another request",
        ),
        (
            "429",
            "rate_limited: over this token's command rate; see Retry-After",
        ),
        (
            "503",
            "unavailable: the database is unreachable; see Retry-After",
        ),
    ];
    for (name, schema) in Command::schemas() {
        let description = schema["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let body = hoist(schema, &mut components);
        components.insert(name.to_owned(), body);
        let mut responses = problem_responses(&refusals);
        responses.insert(
            "200".into(),
            json!({"description": "accepted: the events appended", "content": {
            "application/json": {"schema": reply}}}),
        );
        paths.insert(format!("/api/v1/commands/{name}"), json!({"post": {
            "operationId": name,
            "tags": ["commands"],
            "summary": description,
            "security": [{"bearer": []}],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false,
                            "description": "a repeat returns the first answer and appends nothing",
                            "schema": allweather_command::key_schema()}],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{name}")}}}},
            "responses": responses,
        }}));
    }
    for q in queries() {
        let mut parameters = Vec::new();
        if let Some(p) = &q.path_param {
            parameters.push(json!({"name": p.name, "in": "path", "required": true,
                                   "description": p.meaning, "schema": (p.schema)(&mut generator)}));
        }
        if let Some(h) = &q.header {
            parameters.push(json!({"name": h.name, "in": "header", "required": false,
                                   "description": h.meaning, "schema": (h.schema)(&mut generator)}));
        }
        if let Some(query) = q.query {
            parameters.extend(query_parameters(query(&mut generator).as_value()));
        }
        let mut responses = problem_responses(&[
            ("400", "malformed: a bad parameter, named in errors[].field"),
            ("401", "unauthenticated"),
            ("403", "forbidden"),
            ("404", "not_found"),
            (
                "503",
                "unavailable: the read model did not reach min_position in time",
            ),
        ]);
        let content = match q.answer {
            Some(answer) => json!({q.content: {"schema": answer(&mut generator)}}),
            None => json!({q.content: {}}),
        };
        responses.insert(
            "200".into(),
            json!({"description": q.summary, "content": content}),
        );
        let operation = q
            .path
            .trim_start_matches('/')
            .replace(['/', '{', '}', '.'], "_");
        paths.insert(
            q.path.to_owned(),
            json!({"get": {
                "operationId": format!("get_{operation}"),
                "tags": ["queries"],
                "summary": q.summary,
                "description": format!("Who may ask: {}.", q.access),
                "security": if q.signed_in {
                    json!([{"bearer": []}])
                } else {
                    json!([{}, {"bearer": []}])
                },
                "parameters": parameters,
                "x-exclusive-parameters": q.exclusive.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
                "responses": responses,
            }}),
        );
    }
    components.extend(generator.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "allweather",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The county's all-weather member programme: commands that append to a hash-chained event log, and the read models built from it.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256)"}},
        },
    })
}
