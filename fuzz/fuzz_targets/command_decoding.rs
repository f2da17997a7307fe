//! A command body as it arrives over HTTP or NATS: any bytes, for any command name.
//! Decoding either gives a command or a `MalformedBody` naming a field; it never panics.
#![no_main]

use allweather_domain::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let name = Command::NAMES[usize::from(which) % Command::NAMES.len()];
    match Command::parse(name, body) {
        Ok(Some(command)) => assert_eq!(command.name(), name),
        Ok(None) => panic!("{name} is a command"),
        Err(malformed) => assert!(!malformed.field.is_empty()),
    }
});
