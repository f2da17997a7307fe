//! The published contract, held against the running service: for every route of the
//! OpenAPI document, a generated sample of requests the document calls valid (its
//! parameters' and bodies' schemas, their ranges, formats, patterns and enums, and the
//! pairs of parameters an operation takes one of) is never refused as malformed nor
//! answered with a server error, and every answer matches the schema the document gives
//! for its status.

use allweather_domain::command::{RegisterBranch, RegisterMember};
use allweather_domain::values::BranchKind;
use allweather_test_support::{TestApp, id_of};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Requests generated for each operation.
const SAMPLES: usize = 8;

pub async fn every_documented_request_is_taken_and_every_answer_matches_its_schema(app: TestApp) {
    // A county to ask about: the year's rules, a branch and a member whose ids the
    // samples use now and then, so that requests reach past "not found".
    app.adopt_rules(|_| {}).await;
    let admin = app.admin();
    let water = RegisterBranch {
        branch_id: None,
        name: "Water Bureau".into(),
        kind: BranchKind::Unit,
        community: None,
    };
    let branch = id_of(&app.submit(&admin, water).await);
    let register = RegisterMember {
        member_id: None,
        name: "Li Na".into(),
        unit_branch_id: branch,
        joined_on: "2010-07-01".parse().expect("a date"),
        cadre: None,
    };
    let member = id_of(&app.submit(&admin, register).await);
    let (status, document) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut sampler = Sampler {
        rng: ChaCha8Rng::seed_from_u64(19),
        components: document["components"]["schemas"].clone(),
        known: vec![branch, member],
    };
    let mut checker = Checker::new(&document);
    let mut failures = Vec::new();
    let mut sent = 0;
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() > 50, "every command and query is documented");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("an operation") {
            for _ in 0..SAMPLES {
                let request = sampler.request(path, operation);
                let query = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&request.query)
                    .finish();
                let url = format!("{}{}?{query}", app.base, request.path);
                let mut call = match method.as_str() {
                    "get" => app.client.get(url),
                    "post" => app.client.post(url),
                    other => panic!("{path}: an operation {other} the test does not send"),
                };
                for (name, value) in &request.headers {
                    call = call.header(name, value);
                }
                // Anonymous now and then where the operation lets anyone ask.
                let anyone = operation["security"]
                    .as_array()
                    .is_some_and(|s| s.contains(&json!({})));
                if !anyone || sampler.rng.random_range(0..5) > 0 {
                    call = call.bearer_auth(&admin);
                }
                if let Some(body) = &request.body {
                    call = call.json(body);
                }
                let response = call.send().await.expect("send");
                sent += 1;
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let said = format!("{method} {} {:?}", request.path, request.body);
                if content_type.starts_with("text/event-stream") {
                    // An endless answer: its status is all there is to check.
                    drop(response);
                } else {
                    let text = response.text().await.expect("a body");
                    if let Some(problem) =
                        checker.answer(path, method, status, &content_type, &text)
                    {
                        failures.push(format!("{said}: {problem}"));
                    }
                }
                if status == 400 {
                    failures.push(format!("{said}: a documented request refused as malformed"));
                } else if status >= 500 && status != 503 {
                    failures.push(format!("{said}: answered {status}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} requests broke the contract:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}

/// One generated request.
struct Request {
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

/// Makes values a schema calls valid.
struct Sampler {
    rng: ChaCha8Rng,
    components: Value,
    /// Ids the county holds, used for a UUID now and then.
    known: Vec<Uuid>,
}

impl Sampler {
    fn request(&mut self, path: &str, operation: &Value) -> Request {
        let mut request = Request {
            path: path.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        let exclusive: Vec<(String, String)> = operation["x-exclusive-parameters"]
            .as_array()
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().expect("a name").to_owned();
            let required = parameter["required"].as_bool().unwrap_or(false);
            if !required && self.rng.random_bool(0.5) {
                continue;
            }
            let value = self.value(&parameter["schema"]);
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match parameter["in"].as_str() {
                Some("path") => request.path = request.path.replace(&format!("{{{name}}}"), &text),
                Some("query") => {
                    let taken = exclusive.iter().any(|(a, b)| {
                        (*b == name && request.query.iter().any(|(q, _)| q == a))
                            || (*a == name && request.query.iter().any(|(q, _)| q == b))
                    });
                    if !taken {
                        request.query.push((name, text));
                    }
                }
                Some("header") => request.headers.push((name, text)),
                other => panic!("a parameter in {other:?}"),
            }
        }
        if let Some(schema) = operation["requestBody"]["content"]["application/json"].get("schema")
        {
            request.body = Some(self.value(schema));
        }
        request
    }

    /// A value `schema` calls valid.
    fn value(&mut self, schema: &Value) -> Value {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a reference outside the components: {reference}"));
            let target = self.components[name].clone();
            return self.value(&target);
        }
        if schema == &Value::Bool(true) || schema.as_object().is_some_and(Map::is_empty) {
            return json!({});
        }
        if let Some(constant) = schema.get("const") {
            return constant.clone();
        }
        if let Some(choices) = schema["enum"].as_array() {
            return choices[self.rng.random_range(0..choices.len())].clone();
        }
        if schema.get("properties").is_none()
            && let Some(branches) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        {
            let branch = branches[self.rng.random_range(0..branches.len())].clone();
            return self.value(&branch);
        }
        let kind = match &schema["type"] {
            Value::String(kind) => kind.clone(),
            Value::Array(kinds) => {
                let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
                let real: Vec<&str> = kinds.iter().copied().filter(|k| *k != "null").collect();
                if real.is_empty() || (kinds.len() > real.len() && self.rng.random_bool(0.1)) {
                    return Value::Null;
                }
                real[self.rng.random_range(0..real.len())].to_owned()
            }
            // No type: any value (a rules document, say); an empty object is one.
            Value::Null if schema.get("properties").is_none() => return json!({}),
            Value::Null => "object".to_owned(),
            _ => panic!("a schema the sampler cannot read: {schema}"),
        };
        match kind.as_str() {
            "null" => Value::Null,
            "boolean" => Value::Bool(self.rng.random_bool(0.5)),
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(0);
                let max = schema["maximum"].as_i64().unwrap_or(min + 3);
                json!(self.rng.random_range(min..=max))
            }
            "number" => json!(f64::from(self.rng.random_range(1..=16u32)) / 2.0),
            "string" => Value::String(self.string(schema)),
            "array" => {
                let min = schema["minItems"].as_u64().unwrap_or(0);
                let max = schema["maxItems"].as_u64().unwrap_or(3).min(min + 3);
                let n = self.rng.random_range(min..=max);
                Value::Array((0..n).map(|_| self.value(&schema["items"])).collect())
            }
            "object" => self.object(schema),
            other => panic!("a type the sampler cannot make: {other}"),
        }
    }

    /// An object: every required property, each optional one by chance; under `oneOf`,
    /// one branch's rules over the properties'.
    fn object(&mut self, schema: &Value) -> Value {
        let mut required: Vec<String> = names(&schema["required"]);
        let mut properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(branches) = schema["oneOf"].as_array() {
            let branch = branches[self.rng.random_range(0..branches.len())].clone();
            required.extend(names(&branch["required"]));
            for (name, rule) in branch["properties"].as_object().into_iter().flatten() {
                let base = properties.get(name).cloned().unwrap_or(json!({}));
                properties.insert(name.clone(), merged(base, rule));
            }
        }
        let mut object = Map::new();
        for (name, property) in &properties {
            if !required.contains(name) && self.rng.random_bool(0.5) {
                continue;
            }
            let refused = property.get("not").cloned();
            let value = (0..10)
                .map(|_| self.value(property))
                .find(|v| refused.as_ref().is_none_or(|n| n.get("const") != Some(v)))
                .unwrap_or(Value::Null);
            object.insert(name.clone(), value);
        }
        Value::Object(object)
    }

    fn string(&mut self, schema: &Value) -> String {
        if let Some(pattern) = schema["pattern"].as_str()
            && pattern != allweather_domain::values::TEXT_PATTERN
        {
            return match pattern {
                "^[0-9]+$" => self.rng.random_range(0..50u32).to_string(),
                "^[!-~]+$" => (0..self.rng.random_range(1..=24))
                    .map(|_| char::from(self.rng.random_range(b'!'..=b'~')))
                    .collect(),
                "^[a-z]+-[A-Za-z0-9_-]+$" => format!("member-{}", self.uuid()),
                "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$" => format!(
                    "{:02}:{:02}",
                    self.rng.random_range(0..24),
                    self.rng.random_range(0..60)
                ),
                "^[0-9a-f]{64}$" => (0..64)
                    .map(|_| char::from_digit(self.rng.random_range(0..16), 16).unwrap_or('0'))
                    .collect(),
                other => panic!("a pattern the sampler cannot make: {other}"),
            };
        }
        match schema["format"].as_str() {
            Some("uuid") => self.uuid().to_string(),
            Some("date") => format!(
                "2026-{:02}-{:02}",
                self.rng.random_range(1..=12),
                self.rng.random_range(1..=28)
            ),
            Some("date-time") => format!(
                "2026-{:02}-{:02}T08:30:00Z",
                self.rng.random_range(1..=12),
                self.rng.random_range(1..=28)
            ),
            Some("partial-date-time") => format!("{:02}:30:00", self.rng.random_range(6..=20)),
            // Free text (TEXT_PATTERN): letters.
            _ => {
                let min = schema["minLength"].as_u64().unwrap_or(1);
                let max = schema["maxLength"].as_u64().unwrap_or(16).min(min + 16);
                (0..self.rng.random_range(min..=max))
                    .map(|_| char::from(self.rng.random_range(b'a'..=b'z')))
                    .collect()
            }
        }
    }

    fn uuid(&mut self) -> Uuid {
        if self.rng.random_bool(0.5) {
            self.known[self.rng.random_range(0..self.known.len())]
        } else {
            Uuid::from_u128(self.rng.random())
        }
    }
}

/// A property's schema under a branch's rule: the rule's keywords over the property's.
fn merged(base: Value, rule: &Value) -> Value {
    match (base, rule) {
        (Value::Object(mut base), Value::Object(rule)) => {
            for (key, value) in rule {
                base.insert(key.clone(), value.clone());
            }
            Value::Object(base)
        }
        (base, _) => base,
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks answers against the document, compiling each response schema once.
struct Checker {
    document: Value,
    validators: HashMap<(String, String, String), Option<jsonschema::Validator>>,
}

impl Checker {
    fn new(document: &Value) -> Checker {
        Checker {
            document: document.clone(),
            validators: HashMap::new(),
        }
    }

    /// What is wrong with an answer, if anything.
    fn answer(
        &mut self,
        path: &str,
        method: &str,
        status: u16,
        content_type: &str,
        text: &str,
    ) -> Option<String> {
        let responses = &self.document["paths"][path][method]["responses"];
        let Some(response) = responses.get(status.to_string()) else {
            return Some(format!(
                "answered {status}, which the document does not list"
            ));
        };
        let (media, content) = response["content"].as_object()?.iter().next()?;
        if !content_type.starts_with(media.as_str()) {
            return Some(format!(
                "answered {content_type}, documented as {media}: {text}"
            ));
        }
        let schema = content.get("schema")?.clone();
        let key = (path.to_owned(), method.to_owned(), status.to_string());
        let components = self.document["components"].clone();
        let validator = self
            .validators
            .entry(key)
            .or_insert_with(|| {
                let mut root = schema;
                if let Some(object) = root.as_object_mut() {
                    object.insert("components".into(), components);
                }
                Some(
                    jsonschema::options()
                        .should_validate_formats(true)
                        .build(&root)
                        .unwrap_or_else(|e| {
                            panic!("{path} {status}: a schema that does not compile: {e}")
                        }),
                )
            })
            .as_ref()?;
        let body: Value = match serde_json::from_str(text) {
            Ok(body) => body,
            Err(e) => return Some(format!("answered {status} with no JSON ({e}): {text}")),
        };
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| {
            format!(
                "the {status} answer does not match its schema: {}; {text}",
                errors.join("; ")
            )
        })
    }
}

#[test]
fn the_documented_text_pattern_takes_what_the_domain_takes() {
    let schema = json!({"type": "string", "pattern": allweather_domain::values::TEXT_PATTERN});
    let validator = jsonschema::validator_for(&schema).expect("the pattern compiles");
    for text in [
        "Reading to the elderly",
        "  trimmed  ",
        "two\nlines",
        "冬季棉被一床",
        "",
        "   ",
        "\n",
        "a\u{1}b",
        "tab\there",
        "a\u{7f}",
        "zero\u{200B}width",
        "\u{202E}reversed",
        "soft\u{AD}hyphen",
        "line\u{2028}separator",
        "tag\u{E0041}",
        "Zhe\u{301}ng",
        "Zhéng",
    ] {
        let taken = allweather_domain::values::text("text", text, 100).is_ok();
        assert_eq!(validator.is_valid(&json!(text)), taken, "{text:?}");
    }
}
