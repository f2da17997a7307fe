//! The canonical encoding the hash chain covers: for any JSON value it either refuses
//! (floats, for one) or gives text that reads back as the same value and encodes to the
//! same text again. And an envelope read from the JSON mirror either is refused or
//! carries a hash that matches its content.
#![no_main]

use allweather_events::Envelope;
use allweather_events::canonical::to_canonical_string;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(text) = to_canonical_string(&value) {
        let again: serde_json::Value = serde_json::from_str(&text).expect("canonical text is JSON");
        assert_eq!(again, value, "canonical text reads back as the value");
        assert_eq!(
            to_canonical_string(&again).expect("encodes again"),
            text,
            "the encoding is stable"
        );
    }
    if let Ok(envelope) = Envelope::from_json(&value) {
        assert_eq!(envelope.hash, envelope.expected_hash());
    }
});
