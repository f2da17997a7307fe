//! Executing a command by name: the one path that HTTP and NATS share. The adapters only
//! carry the name, the idempotency key and the body in, and the answer or problem out.

use crate::probe::Ping;
use crate::problem::ApiError;
use allweather_events::Timestamp;
use allweather_log::Log;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

/// Namespace of the UUID v5 ids derived from idempotency keys that are not UUIDs.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6177_6964_656d_7000_8000_0000_0000_0001);

/// Runs the command `name` with its JSON `body`; the answer is the API's success body.
pub(crate) async fn execute(
    log: &Log,
    name: &str,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let command_id = command_id(idempotency_key)?;
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let (id, request) = match name {
        "Ping" => parse::<Ping>(body)?.into_append(command_id, now)?,
        other => {
            return Err(ApiError::NotFound(format!(
                "there is no command named {other:?}"
            )));
        }
    };
    let outcome = log.append(request).await?;
    let events: Vec<Value> = outcome
        .events
        .iter()
        .map(|e| {
            json!({
                "event_id": e.event_id, "event_type": e.event_type, "stream_id": e.stream_id,
                "stream_version": e.stream_version, "position": e.position,
            })
        })
        .collect();
    Ok(
        json!({ "command_id": outcome.command_id, "position": outcome.position(), "id": id, "events": events }),
    )
}

/// Reads a JSON body into `T`, naming the field at fault when it cannot.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            // `.` is the whole body; `?` is a syntax error before any field.
            p if p == "." || p == "?" => "body".to_string(),
            p => p,
        };
        ApiError::field(field, e.inner().to_string())
    })
}

/// The refusal of an idempotency key that is not 1–200 visible ASCII characters.
pub(crate) fn bad_key() -> ApiError {
    ApiError::field(
        "Idempotency-Key",
        "must be 1 to 200 visible ASCII characters",
    )
}

/// The command id: the idempotency key (a UUID, or any other key of 1–200 visible ASCII
/// characters, mapped to a UUID v5), or a new UUID v7.
fn command_id(key: Option<&str>) -> Result<Uuid, ApiError> {
    let Some(key) = key else {
        return Ok(Uuid::now_v7());
    };
    if !(1..=200).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_key());
    }
    Ok(Uuid::parse_str(key)
        .unwrap_or_else(|_| Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, key.as_bytes())))
}
