//! Canonical JSON: the byte form that is hashed.
//!
//! The form is RFC 8785 (JSON Canonicalization Scheme) restricted to integers: object
//! members sorted by the UTF-16 code units of their names, no insignificant whitespace,
//! strings escaped minimally, and numbers only as integers. Floats are refused, because
//! their text form is where serialisers disagree; quantities that are hashed are stored in
//! integer units (minutes, hundredths of a point). The writer is written out here rather
//! than delegated to `serde_json`'s printer so that the hash of an event can never change
//! with a dependency's version or its feature flags (`preserve_order` changes map order).

use serde_json::Value;
use std::fmt::Write as _;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number that is not an integer in the `i64`/`u64` range was found at `path`.
    #[error(
        "`{path}` is not an integer; hashed content holds integers only (use minutes or hundredths)"
    )]
    NotAnInteger {
        /// JSON pointer of the offending value.
        path: String,
    },
}

/// Writes `value` in canonical form.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(&mut out, value, &mut String::new())?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(CanonicalError::NotAnInteger {
                    path: if path.is_empty() {
                        "/".into()
                    } else {
                        path.clone()
                    },
                });
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                let _ = write!(path, "/{i}");
                write_value(out, item, path)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                let len = path.len();
                path.push('/');
                path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                write_value(out, item, path)?;
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Writes a JSON string literal with the minimal escaping of RFC 8785 §3.2.2.2.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": {"d": [1, 2], "c": null}, "A": true});
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            r#"{"A":true,"a":{"c":null,"d":[1,2]},"b":1}"#
        );
    }

    #[test]
    fn names_sort_by_utf16_code_units_as_rfc8785_requires() {
        // U+E000 is one UTF-16 unit (0xE000); U+1F600 is a surrogate pair starting 0xD83D.
        // By code point the emoji sorts last, by UTF-16 it sorts first.
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2});
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            "{\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let v = json!("a\"b\\c\n\u{1}é/<");
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é/<\""
        );
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let v = json!({"entries": [{"hours": 1.5}]});
        assert_eq!(
            to_canonical_string(&v),
            Err(CanonicalError::NotAnInteger {
                path: "/entries/0/hours".into()
            })
        );
    }

    #[test]
    fn large_integers_keep_their_digits() {
        let v = json!([i64::MIN, u64::MAX]);
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            "[-9223372036854775808,18446744073709551615]"
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonical_text_parses_back_to_the_same_value(v in arb_json()) {
            let text = to_canonical_string(&v).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(to_canonical_string(&back).unwrap(), text);
        }
    }
}
