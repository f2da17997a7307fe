//! The personal data of people in need (a wish's beneficiary), and its erasure.
//!
//! A beneficiary's name and contact never enter the log in clear: they are sealed with
//! XChaCha20-Poly1305 under a key of that person's own, which the key store (beside the
//! log, never in it) keeps. The log holds only the ciphertext, and the hash chain covers
//! it. Erasing a person destroys the key: everything sealed for them becomes unreadable
//! in the log and every copy of it (the JetStream mirror, an export), while the chain,
//! which never needed the clear text, still verifies. A backup of the database holds the
//! keys too, and reads the details until it expires.
//!
//! Sealing is pure computation: the handler brings the person's key and a fresh nonce
//! into the [`World`] (asked for with [`Decide::NeedKey`]), as it brings streams.
//!
//! `PublishWish` takes `beneficiary` (a name), `beneficiary_contact` and `beneficiary_id`
//! (the person, to publish several wishes for one; by default the wish's own id). The two
//! details are sealed as JSON with the person id as associated data, and the event carries
//! `{person_id, sealed}` (base64url of the nonce and the ciphertext). The nonce is drawn
//! for that decision alone, from the operating system (the demo county draws from its seed,
//! so that its log still hashes alike). A key is made on the person's first wish.
//!
//! Erasure is `EraseBeneficiary` (committee admins; `allweather erase beneficiary`):
//! `decide` refuses an unknown person and a second erasure, and its decision names the key
//! to destroy; the handler destroys it, then appends `BeneficiaryErased` to
//! `beneficiary-{person}`, so the record never stands while the details are readable, and
//! a rerun after a crash between the two finishes the job. `PublishWish` reads that stream
//! too, so an erasure that commits while a publish is decided makes the publish decide
//! again, and be refused. Who may read the details is [`crate::wish::beneficiary`]'s rule.
//! No read model holds them, so an erasure shows at once, with no rebuild.
//!
//! What people write about a person in need is theirs too: a household's hardship, a
//! visit's notes, a concern's description (under the household's key: a household is a
//! person in need, its id its key's), a wish's fulfilment evidence (under its
//! beneficiary's). Events carry it as [`Private`] text, sealed like the details with
//! associated data of its own, and an erasure of the household or person makes it
//! unreadable with the rest. Events recorded before such text was sealed hold it in clear
//! ([`Private::Clear`]): the log is never rewritten, so those bytes stay in it and in its
//! copies (the mirror, backups). What the service shows hides them as the sealed text
//! reads: the live event stream always, raw streams (the committee's and auditors' only)
//! once the person or household is erased. A household with only such events has no
//! key; its erasure is recorded all the same.

use crate::command::EraseBeneficiary;
use crate::ctx::Ctx;
use crate::error::{Decide, DomainError, Rule, ensure};
use crate::event::{BeneficiaryErased, Event};
use crate::permissions::require_role;
use crate::values;
use crate::world::{Decision, World, streams};
use allweather_events::Role;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Bytes of a person's key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 24;

/// The fields of a command body that carry a person's details, or free text about a
/// person in need, in clear.
pub const FIELDS: &[&str] = &[
    "beneficiary",
    "beneficiary_contact",
    "hardship",
    "notes",
    "description",
    "evidence",
];

/// The payload fields that hold free text about a person in need ([`Private`]).
pub const TEXT_FIELDS: &[&str] = &["hardship", "notes", "description", "evidence"];

/// Puts `with` in place of every free text about a person in need that `payload` holds
/// in clear (as events of earlier releases do); sealed text is left as it is.
pub fn hide_clear_text(payload: &mut serde_json::Value, with: &str) {
    for field in TEXT_FIELDS {
        if let Some(text) = payload.get_mut(*field).filter(|t| t.is_string()) {
            *text = serde_json::Value::from(with);
        }
    }
}

/// What is shown in place of an erased person's details.
pub const ERASED: &str = "[erased]";

/// A beneficiary's details, in clear (only ever in memory; never printed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal {
    /// Their name.
    pub name: String,
    /// How to reach them (a phone number, an address), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Personal(…)")
    }
}

/// A person's details as events carry them: sealed under that person's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// The person, whose key seals the details (the associated data of the seal).
    pub person_id: Uuid,
    /// Base64url (unpadded) of a 24-byte nonce followed by the XChaCha20-Poly1305
    /// ciphertext and tag of the details' JSON (`{"name", "contact"?}`).
    pub sealed: String,
}

/// A person's key, as the key store holds it when a decision is made.
#[derive(Clone, PartialEq, Eq)]
pub enum PersonKey {
    /// No key was ever made for this person.
    Unknown,
    /// The key, with a nonce drawn for this decision alone.
    Live {
        /// The key.
        key: [u8; KEY_LEN],
        /// A fresh random nonce.
        nonce: [u8; NONCE_LEN],
    },
    /// Destroyed by an erasure: what it sealed can no longer be read.
    Erased,
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PersonKey::Unknown => "Unknown",
            PersonKey::Live { .. } => "Live(…)",
            PersonKey::Erased => "Erased",
        })
    }
}

/// Sealed details that could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed details of person {0} do not open with their key")]
pub struct Unreadable(pub Uuid);

fn aad(person_id: Uuid) -> Vec<u8> {
    [
        b"allweather/beneficiary/v1/".as_slice(),
        person_id.as_bytes(),
    ]
    .concat()
}

/// The associated data of free text about `person_id`: text never opens as details.
fn text_aad(person_id: Uuid) -> Vec<u8> {
    [b"allweather/text/v1/".as_slice(), person_id.as_bytes()].concat()
}

/// Free text about a person in need, as an event carries it. Sealed, it is a [`Sealed`]
/// of the text's UTF-8 bytes (with associated data of its own, so that it never opens as
/// a person's details).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Private {
    /// Sealed under the person's key (as every event written now carries it).
    Sealed(Sealed),
    /// In clear, as events recorded before such text was sealed hold it.
    Clear(String),
}

impl fmt::Debug for Private {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Private::Sealed(s) => f.debug_tuple("Sealed").field(s).finish(),
            Private::Clear(_) => f.write_str("Clear(…)"),
        }
    }
}

fn seal_bytes(aad: &[u8], key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], clear: &[u8]) -> String {
    // XChaCha20-Poly1305 refuses only messages beyond 256 GiB: this cannot fail for the
    // few kilobytes a text field holds, and a seal without its content must never be
    // stored in its place.
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(&XNonce::from(*nonce), Payload { msg: clear, aad })
        .expect("XChaCha20-Poly1305 seals a message of a few kilobytes");
    URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat())
}

fn open_bytes(sealed: &Sealed, aad: &[u8], key: &[u8; KEY_LEN]) -> Result<Vec<u8>, Unreadable> {
    let bad = || Unreadable(sealed.person_id);
    let bytes = URL_SAFE_NO_PAD.decode(&sealed.sealed).map_err(|_| bad())?;
    if bytes.len() < NONCE_LEN {
        return Err(bad());
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad())?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| bad())
}

/// Seals free `text` about `person_id` under `key` with `nonce` (never used twice with
/// the same key).
pub fn seal_text(
    person_id: Uuid,
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    text: &str,
) -> Sealed {
    Sealed {
        person_id,
        sealed: seal_bytes(&text_aad(person_id), key, nonce, text.as_bytes()),
    }
}

/// Opens free text sealed with [`seal_text`].
pub fn open_text(sealed: &Sealed, key: &[u8; KEY_LEN]) -> Result<String, Unreadable> {
    let clear = open_bytes(sealed, &text_aad(sealed.person_id), key)?;
    String::from_utf8(clear).map_err(|_| Unreadable(sealed.person_id))
}

/// Seals free `text` about `person_id` with the key the handler brought, creating it if
/// the person has none; refuses a person who was erased, naming `field`.
pub(crate) fn private_text(
    world: &World,
    person_id: Uuid,
    field: &'static str,
    text: String,
) -> Result<Private, Decide> {
    match world.key(person_id, true)? {
        PersonKey::Live { key, nonce } => {
            Ok(Private::Sealed(seal_text(person_id, key, nonce, &text)))
        }
        PersonKey::Erased => Err(DomainError::new(
            Rule::BeneficiaryErased,
            format!("{person_id} was erased: nothing more is written about them"),
        )
        .on(field)
        .into()),
        // A key asked for with `create` is never unknown once loaded.
        PersonKey::Unknown => Err(Decide::NeedKey {
            person_id,
            create: true,
        }),
    }
}

/// Seals `details` for `person_id` under `key` with `nonce` (which must never be used
/// twice with the same key: the handler draws a random one per decision).
pub fn seal(
    person_id: Uuid,
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    details: &Personal,
) -> Sealed {
    // Serialising two strings cannot fail.
    let clear = serde_json::to_vec(details).expect("two strings serialise as JSON");
    Sealed {
        person_id,
        sealed: seal_bytes(&aad(person_id), key, nonce, &clear),
    }
}

/// Opens sealed details with the person's key.
pub fn open(sealed: &Sealed, key: &[u8; KEY_LEN]) -> Result<Personal, Unreadable> {
    let clear = open_bytes(sealed, &aad(sealed.person_id), key)?;
    serde_json::from_slice(&clear).map_err(|_| Unreadable(sealed.person_id))
}

/// Checks a beneficiary's details as a command gives them.
pub(crate) fn details(name: &str, contact: Option<&str>) -> Result<Personal, DomainError> {
    Ok(Personal {
        name: values::text("beneficiary", name, values::TEXT_LINE)?,
        contact: contact
            .map(|c| values::text("beneficiary_contact", c, values::TEXT_LINE))
            .transpose()?,
    })
}

/// Seals `details` for `person_id` with the key the handler brought, creating it if the
/// person has none; refuses an erased person.
pub(crate) fn seal_for(
    world: &World,
    person_id: Uuid,
    details: &Personal,
) -> Result<Sealed, Decide> {
    match world.key(person_id, true)? {
        PersonKey::Live { key, nonce } => Ok(seal(person_id, key, nonce, details)),
        PersonKey::Erased => Err(DomainError::new(
            Rule::BeneficiaryErased,
            format!("beneficiary {person_id} was erased; a new wish for them needs a new id"),
        )
        .on("beneficiary_id")
        .into()),
        // A key asked for with `create` is never unknown once loaded.
        PersonKey::Unknown => Err(Decide::NeedKey {
            person_id,
            create: true,
        }),
    }
}

/// A person whose key was destroyed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Beneficiary {
    /// Whether the erasure was recorded.
    pub erased: bool,
}

impl Beneficiary {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        if let Event::BeneficiaryErased(_) = event {
            self.erased = true;
        }
    }
}

pub(crate) fn erase(world: &World, c: &EraseBeneficiary, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "erasing a beneficiary")?;
    let stream = streams::beneficiary(c.beneficiary_id);
    let person: &Beneficiary = world.get(stream.clone())?;
    ensure(!person.erased, Rule::AlreadyErased, || {
        format!("beneficiary {} is already erased", c.beneficiary_id)
    })?;
    let reason = values::text("reason", &c.reason, values::TEXT_PARAGRAPH)?;
    // A person known by their key; or a household registered before what is written
    // about households was sealed, which has none: its erasure is recorded all the same,
    // and what earlier releases wrote about it in clear is shown as erased from then on.
    let known = *world.key(c.beneficiary_id, false)? != PersonKey::Unknown
        || world
            .get::<crate::household::Household>(streams::household(c.beneficiary_id))?
            .registered;
    ensure(known, Rule::BeneficiaryNotFound, || {
        format!(
            "no wish or household was registered for {} (no key was ever made for them)",
            c.beneficiary_id
        )
    })?;
    // The key is destroyed before the event is appended: the record of an erasure is
    // never there while the details are still readable. (A key is made before its wish is
    // appended, so a person whose only publish was refused after that has a key and no
    // wish; erasing them destroys that key, which sealed nothing in the log.)
    Ok(Decision::to(
        stream,
        vec![Event::BeneficiaryErased(BeneficiaryErased {
            reason,
            erased_on: ctx.today,
        })],
    )
    .erasing(c.beneficiary_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];

    fn details() -> Personal {
        Personal {
            name: "王奶奶".into(),
            contact: Some("138 0000 0000".into()),
        }
    }

    #[test]
    fn sealed_details_open_with_the_key_and_hide_the_clear_text() {
        let person = Uuid::from_u128(1);
        let sealed = seal(person, &KEY, &[1; NONCE_LEN], &details());
        assert!(!sealed.sealed.contains("138"), "{sealed:?}");
        assert_eq!(open(&sealed, &KEY), Ok(details()));
    }

    #[test]
    fn another_key_another_person_or_a_changed_byte_do_not_open() {
        let person = Uuid::from_u128(1);
        let sealed = seal(person, &KEY, &[1; NONCE_LEN], &details());
        assert_eq!(open(&sealed, &[8; KEY_LEN]), Err(Unreadable(person)));
        let moved = Sealed {
            person_id: Uuid::from_u128(2),
            ..sealed.clone()
        };
        assert!(open(&moved, &KEY).is_err(), "bound to its person");
        let mut tampered = sealed.sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = Sealed {
            sealed: String::from_utf8(tampered).expect("ascii"),
            ..sealed
        };
        assert!(open(&tampered, &KEY).is_err());
        let garbage = Sealed {
            person_id: person,
            sealed: "!!".into(),
        };
        assert_eq!(open(&garbage, &KEY), Err(Unreadable(person)));
    }

    #[test]
    fn two_nonces_give_two_ciphertexts() {
        let person = Uuid::from_u128(1);
        let a = seal(person, &KEY, &[1; NONCE_LEN], &details());
        let b = seal(person, &KEY, &[2; NONCE_LEN], &details());
        assert_ne!(a.sealed, b.sealed);
    }

    #[test]
    fn a_key_never_prints() {
        let key = PersonKey::Live {
            key: KEY,
            nonce: [1; NONCE_LEN],
        };
        assert_eq!(format!("{key:?}"), "Live(…)");
    }
}
