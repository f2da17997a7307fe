//! Idempotency: the command id a caller's key names, the digest of a request (so a key
//! reused for another request is refused, not silently replayed), and the answer to a
//! repeat.
//!
//! Only a command with a caller's key can repeat: one without gets a fresh UUID v7, and
//! looking it up would cost a round trip for nothing. A key that first came with another
//! request is refused (`idempotency_key_reused`) on every path a repeat can take: recorded
//! before, in the same batch, or in a racing batch.

use crate::error::CommandError;
use crate::reply::CommandReply;
use allweather_domain::personal;
use allweather_events::Hash;
use allweather_log::AppendOutcome;
use serde_json::Value;
use sha2::Digest as _;
use uuid::Uuid;

/// Namespace of the UUID v5 ids derived from idempotency keys that are not UUIDs.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6177_6964_656d_7000_8000_0000_0000_0001);

/// A digest of a request: its command name and its body as JSON with sorted keys (the
/// body has been parsed, so it is JSON), so that spacing, key order and a field sent as
/// `null` rather than left out do not count. A person's details are left out: the digest
/// stays in the `commands` table after the person is erased, and a digest of a name or a
/// phone number could be found again by trying every likely one. A key reused for a
/// request that differs only in them is therefore answered as a repeat.
pub(super) fn request_digest(name: &str, body: &[u8]) -> Hash {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut fields)) => {
            fields.retain(|field, value| {
                !value.is_null() && !personal::FIELDS.contains(&field.as_str())
            });
            Value::Object(fields).to_string().into_bytes()
        }
        Ok(other) => other.to_string().into_bytes(),
        Err(_) => body.to_vec(),
    };
    let mut sha = sha2::Sha256::new();
    sha.update(name.as_bytes());
    sha.update([0]);
    sha.update(&body);
    Hash(sha.finalize().into())
}

/// The answer to a repeated key: the first request's answer if this is the same request;
/// refused if the key first came with another command or body (a client's bug that a
/// silent replay would hide).
pub(super) fn repeat(first: &AppendOutcome, digest: Hash) -> Result<CommandReply, CommandError> {
    match first.request_digest {
        Some(recorded) if recorded != digest => Err(CommandError::KeyReused(format!(
            "the idempotency key of command {} was first used for a different request (another command or body); a new request needs a new key",
            first.command_id
        ))),
        _ => Ok(CommandReply::of(first)),
    }
}

/// The longest idempotency key.
const KEY_MAX: usize = 200;

/// An idempotency key's syntax, as the OpenAPI document states it: exactly what
/// [`command_id`] accepts.
pub fn key_schema() -> Value {
    serde_json::json!({
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX,
        "pattern": "^[!-~]+$",
        "description": "1 to 200 visible ASCII characters (a UUID, or any other key); a repeat returns the first answer and appends nothing",
    })
}

/// The refusal of an idempotency key that is not 1–200 visible ASCII characters.
pub(crate) fn bad_key() -> CommandError {
    CommandError::field(
        "Idempotency-Key",
        format!("must be 1 to {KEY_MAX} visible ASCII characters"),
    )
}

/// The ids a request's key gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids {
    /// The command's id, under which the log records it once.
    pub command_id: Uuid,
    /// The id of an aggregate the command creates.
    pub new_id: Uuid,
}

/// The command id the log records for `caller`'s (a token's subject) request with `key`.
pub fn command_id(caller: &str, key: &str) -> Result<Uuid, CommandError> {
    ids(caller, Some(key)).map(|ids| ids.command_id)
}

/// The ids of a request of `caller` (the token's subject) with `key`.
///
/// A key belongs to its caller: the command id is a UUID v5 of the caller and the key,
/// so the same key sent by someone else is another command, decided under its sender's
/// own permissions, never answered with the first caller's reply, and no way to block or
/// probe theirs. A key is 1–200 visible ASCII characters; without one, the command gets a
/// fresh UUID v7. A new aggregate's id is the key itself when the key is a UUID v7 (an id
/// the client chose, as the demo does), else the command's UUID v7 or a fresh one.
pub(crate) fn ids(caller: &str, key: Option<&str>) -> Result<Ids, CommandError> {
    let Some(key) = key else {
        let id = Uuid::now_v7();
        return Ok(Ids {
            command_id: id,
            new_id: id,
        });
    };
    if !(1..=KEY_MAX).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_key());
    }
    let mut scoped = Vec::with_capacity(caller.len() + 1 + key.len());
    scoped.extend_from_slice(caller.as_bytes());
    scoped.push(0);
    scoped.extend_from_slice(key.as_bytes());
    Ok(Ids {
        command_id: Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, &scoped),
        new_id: Uuid::parse_str(key)
            .ok()
            .filter(|id| id.get_version_num() == 7)
            .unwrap_or_else(Uuid::now_v7),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_digest_ignores_spacing_and_key_order_but_not_the_body_or_the_command() {
        let a = request_digest("RegisterBranch", br#"{"name":"A","kind":"unit"}"#);
        assert_eq!(
            a,
            request_digest("RegisterBranch", br#"{ "kind": "unit",  "name": "A" }"#)
        );
        assert_ne!(
            a,
            request_digest("RegisterBranch", br#"{"name":"B","kind":"unit"}"#)
        );
        assert_ne!(
            a,
            request_digest("RegisterMember", br#"{"name":"A","kind":"unit"}"#)
        );
        assert_eq!(
            a,
            request_digest(
                "RegisterBranch",
                br#"{"name":"A","kind":"unit","community":null}"#
            ),
            "null is as left out"
        );
    }

    #[test]
    fn a_key_names_one_command_of_its_caller_and_another_of_anyone_else() {
        let key = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let alice = ids("alice", Some(key)).unwrap();
        assert_eq!(
            alice.command_id,
            ids("alice", Some(key)).unwrap().command_id
        );
        assert_ne!(
            alice.command_id,
            ids("mallory", Some(key)).unwrap().command_id
        );
        // The subject and key are kept apart: ("a", "b c") is not ("a b", "c").
        assert_ne!(
            ids("a", Some("bc")).unwrap().command_id,
            ids("ab", Some("c")).unwrap().command_id
        );
        let chosen = Uuid::now_v7();
        assert_eq!(
            ids("alice", Some(&chosen.to_string())).unwrap().new_id,
            chosen
        );
        assert!(ids("alice", Some("has space")).is_err());
        assert!(ids("alice", Some("")).is_err());
    }

    #[test]
    fn a_request_digest_holds_nothing_of_a_persons_details() {
        let wish = |name: &str, contact: &str| {
            json!({"title": "A coat", "beneficiary": name, "beneficiary_contact": contact})
                .to_string()
        };
        assert_eq!(
            request_digest("PublishWish", wish("Zhao", "138").as_bytes()),
            request_digest("PublishWish", wish("Qian", "139").as_bytes())
        );
        assert_ne!(
            request_digest("PublishWish", wish("Zhao", "138").as_bytes()),
            request_digest(
                "PublishWish",
                wish("Zhao", "138").replace("A coat", "A hat").as_bytes()
            )
        );
    }
}
