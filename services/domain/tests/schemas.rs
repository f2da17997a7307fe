//! The JSON Schemas published for integrators (`events/schemas/{EventType}.v{N}.json`)
//! are the code's: a payload changed without its schema file regenerated fails here, in
//! CI. `ALLWEATHER_WRITE_SCHEMAS=1 cargo test -p allweather-domain --test schemas` writes
//! them. The files of an event's earlier schema versions stay, as they were published:
//! messages of those versions remain in the log and its mirror.

use allweather_domain::Event;
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_events_published_schema_is_the_codes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/schemas");
    let write = std::env::var_os("ALLWEATHER_WRITE_SCHEMAS").is_some();
    let mut expected = BTreeSet::new();
    let mut stale = Vec::new();
    for (name, schema) in Event::schemas() {
        let version = Event::SPECS
            .iter()
            .find(|s| s.event_type == name)
            .map(|s| s.schema_version)
            .expect("every event type has a spec");
        let file = format!("{name}.v{version}.json");
        let text = serde_json::to_string_pretty(&schema).expect("a schema is JSON") + "\n";
        let path = dir.join(&file);
        if write {
            std::fs::write(&path, &text).expect("write a schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(file.clone());
        }
        expected.insert(file);
        for earlier in 1..version {
            let file = format!("{name}.v{earlier}.json");
            if !dir.join(&file).is_file() {
                stale.push(format!("{file} (an earlier version's schema is missing)"));
            }
            expected.insert(file);
        }
    }
    for entry in std::fs::read_dir(&dir).expect("events/schemas exists") {
        let name = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") && !expected.contains(&name) {
            stale.push(format!("{name} (no such event in the code)"));
        }
    }
    assert!(
        stale.is_empty(),
        "events/schemas/ is out of date: {stale:?}; regenerate with \
         ALLWEATHER_WRITE_SCHEMAS=1 cargo test -p allweather-domain --test schemas"
    );
    let versions: u32 = Event::SPECS.iter().map(|s| s.schema_version).sum();
    assert_eq!(expected.len(), versions as usize);
}

#[test]
fn a_schema_names_every_field_of_its_payload() {
    let schemas = Event::schemas();
    let (_, wish) = schemas
        .iter()
        .find(|(n, _)| *n == "WishPublished")
        .expect("WishPublished");
    let required: BTreeSet<&str> = wish["required"]
        .as_array()
        .expect("required fields")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for field in [
        "origin",
        "title",
        "beneficiary",
        "category",
        "deadline",
        "publisher",
        "published_on",
    ] {
        assert!(required.contains(field), "{field} in {wish}");
    }
    assert_eq!(
        wish["properties"]["deadline"]["format"], "date-time",
        "{wish}"
    );
}
