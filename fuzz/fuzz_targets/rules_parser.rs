//! A year's rules as an officer writes them in TOML: any text either parses into rules
//! that pass their own checks or is refused with an error, and never panics. The same
//! document sent as JSON (the API's `AdoptRules`) is accepted or refused alike, and
//! accepted into the same rules.
#![no_main]

use allweather_domain::rules::Rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let from_toml = Rules::from_toml(text);
    let Ok(document) = toml::from_str::<serde_json::Value>(text) else {
        return;
    };
    match (Rules::from_json(&document), from_toml) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (json, toml) => panic!("as JSON {json:?}, as TOML {toml:?}"),
    }
});
