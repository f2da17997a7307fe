//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated when first asked for:
//! every command's path and body schema from the domain's command types (their doc
//! comments are the descriptions), every query from the route list the router itself is
//! built from. And `/api/v1/schemas`: the JSON Schema of every event type's payload.

use crate::routes::queries;
use allweather_domain::{Command, Event};
use axum::Json;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// `GET /api/v1/openapi.json`.
pub(crate) async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

/// `GET /api/v1/schemas`: each event type's payload schema (with its schema version),
/// and each command's body schema.
pub(crate) async fn schemas() -> Json<Value> {
    let events: Map<String, Value> = Event::schemas()
        .into_iter()
        .map(|(name, schema)| {
            let version = Event::SPECS
                .iter()
                .find(|s| s.event_type == name)
                .map_or(1, |s| s.schema_version);
            (
                name.to_owned(),
                json!({"schema_version": version, "schema": schema}),
            )
        })
        .collect();
    let commands: Map<String, Value> = Command::schemas()
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    Json(json!({"events": events, "commands": commands}))
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

fn problem_responses(statuses: &[(&str, &str)]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|(status, what)| {
            let body = json!({"description": what, "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}});
            ((*status).to_owned(), body)
        })
        .collect()
}

fn build() -> Value {
    let mut components = Map::new();
    components.insert("Problem".into(), json!({
        "type": "object",
        "description": "An error (RFC 9457); a refused command changed nothing",
        "required": ["type", "title", "status", "detail", "code", "errors"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": ["malformed", "unauthenticated", "forbidden", "not_found", "conflict", "too_large", "invalid", "idempotency_key_reused", "rate_limited", "unavailable", "internal"]},
            "rule": {"type": "string", "description": "the rule of the programme that refused the command"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
        },
    }));
    components.insert("CommandReply".into(), json!({
        "type": "object",
        "required": ["command_id", "position", "events"],
        "properties": {
            "command_id": {"type": "string", "format": "uuid"},
            "position": {"type": "integer", "description": "the log position of its last event: pass it as min_position to a query"},
            "id": {"type": "string", "description": "the id of the aggregate the command created or acted on"},
            "events": {"type": "array", "items": {"type": "object", "properties": {
                "event_id": {"type": "string", "format": "uuid"}, "event_type": {"type": "string"},
                "stream_id": {"type": "string"}, "stream_version": {"type": "integer"}, "position": {"type": "integer"}}}},
        },
    }));
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
            "application/json": {"schema": {"$ref": "#/components/schemas/CommandReply"}}}}),
        );
        paths.insert(format!("/api/v1/commands/{name}"), json!({"post": {
            "operationId": name,
            "tags": ["commands"],
            "summary": description,
            "security": [{"bearer": []}],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false,
                            "description": "a repeat returns the first answer and appends nothing",
                            "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{name}")}}}},
            "responses": responses,
        }}));
    }
    for q in queries() {
        let parameters: Vec<Value> = q
            .params
            .iter()
            .map(|(name, at, required, meaning)| {
                json!({"name": name, "in": at, "required": required, "description": meaning, "schema": {"type": "string"}})
            })
            .collect();
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
        responses.insert(
            "200".into(),
            json!({"description": q.summary, "content": {q.content: {}}}),
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
                "security": [{}, {"bearer": []}],
                "parameters": parameters,
                "responses": responses,
            }}),
        );
    }
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
