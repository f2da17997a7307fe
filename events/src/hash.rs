//! SHA-256 hashes and the chain rule `hash = SHA-256(prev_hash ‖ canonical bytes)`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest. Shown and serialised as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hash(pub [u8; 32]);

impl schemars::JsonSchema for Hash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hash".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "A SHA-256 digest, 64 lowercase hex digits",
        })
    }
}

impl Hash {
    /// The `prev_hash` of the first event of a log.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// The next link of the chain: `SHA-256(prev ‖ canonical)`.
    pub fn chain(prev: &Hash, canonical: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update(prev.0);
        h.update(canonical);
        Hash(h.finalize().into())
    }

    /// Reads a hash stored as raw bytes; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        bytes.try_into().ok().map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl TryFrom<String> for Hash {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bytes = hex::decode(&text).map_err(|e| format!("hash {text:?}: {e}"))?;
        Hash::from_slice(&bytes).ok_or_else(|| format!("hash {text:?}: not 32 bytes"))
    }
}

impl From<Hash> for String {
    fn from(h: Hash) -> Self {
        h.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_is_sha256_of_prev_then_bytes() {
        // SHA-256 of 32 zero bytes followed by "abc", computed independently.
        let mut input = vec![0u8; 32];
        input.extend_from_slice(b"abc");
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(Hash::chain(&Hash::GENESIS, b"abc"), Hash(expected));
    }

    #[test]
    fn hex_round_trips() {
        let h = Hash::chain(&Hash::GENESIS, b"x");
        assert_eq!(Hash::try_from(h.to_string()).unwrap(), h);
        assert!(Hash::try_from("zz".to_string()).is_err());
    }
}
