//! A log an earlier release wrote is still this build's log: it verifies, every read
//! model projects it, and every query answers on it — the new ones too (an old log
//! simply holds no appraisal yet). The log is `tests/fixtures/log-f3f2065-demo-200-seed7.db`,
//! written by `allweather demo --members 200 --seed 7` at commit f3f2065, before events
//! such as `DualCardSigned` gained schema version 2.

use super::{run, serve, terminate, token};
use allweather_log::{Log, LogOptions};
use std::time::Duration;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/log-f3f2065-demo-200-seed7.db"
);
const EVENTS: u64 = 9_592;
const HEAD_HASH: &str = "764cc8af136d0e292cac3a8ce3e15f181ba84f00b14fcb16f008510a241fb43a";

#[tokio::test]
async fn a_log_written_by_an_earlier_release_verifies_projects_and_answers_every_query() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(FIXTURE, dir.path().join("log.db")).expect("copy the fixture");
    let data_dir = dir.path().to_str().expect("utf-8 path");

    let verified = run(&["--data-dir", data_dir, "audit", "verify"]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("verified {EVENTS} events; head hash {HEAD_HASH}")
    );

    // The stored bytes are the old release's: version 1 signatures, read through their
    // upcaster.
    let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
        .await
        .expect("open the old log");
    let mut signed = None;
    let mut after = 0;
    while signed.is_none() {
        let page = log.read_all(after, 1_000).await.expect("read");
        let last = page.last().expect("the log holds a signed card").position;
        signed = page.into_iter().find(|e| e.event_type == "DualCardSigned");
        after = last;
    }
    let signed = signed.expect("a signature");
    assert_eq!(signed.schema_version, 1, "the fixture predates version 2");
    let member = signed
        .stream_id
        .id()
        .rsplit_once('-')
        .map(|(m, _)| m.to_owned())
        .expect("dualcard-{member}-{year}");
    log.shutdown().await;
    drop(log);

    for projector in ["leaderboard", "wishes", "integrity", "scorecard"] {
        let rebuilt = run(&["--data-dir", data_dir, "projector", projector, "--rebuild"]);
        let stdout = String::from_utf8_lossy(&rebuilt.stdout);
        assert!(
            rebuilt.status.success(),
            "{projector}: {stdout}{}",
            String::from_utf8_lossy(&rebuilt.stderr)
        );
        assert!(
            stdout
                .trim_end()
                .ends_with(&format!("swapped it in at position {EVENTS}")),
            "{projector}: {stdout}"
        );
    }

    let admin = token(
        dir.path(),
        &["--role", "committee_admin", "--subject", "Zhang Wei"],
    );
    let (mut child, base) = serve(dir.path(), None).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let (client, admin, base) = (client.clone(), admin.clone(), base.clone());
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(admin)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .expect("GET");
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.expect("JSON"))
        }
    };
    let at = format!("year=2025&min_position={EVENTS}");
    let (status, rankings) = get(format!("/api/v1/rankings/branches?{at}")).await;
    assert_eq!(status, 200, "{rankings}");
    assert_eq!(rankings["branches"].as_array().map(Vec::len), Some(60));
    let (status, board) = get(format!("/api/v1/leaderboards/volunteers?{at}")).await;
    assert_eq!(status, 200, "{board}");
    assert!(board["entries"].as_array().is_some_and(|e| !e.is_empty()));
    let (status, wishes) = get(format!("/api/v1/wishes?min_position={EVENTS}")).await;
    assert_eq!(status, 200, "{wishes}");

    let (status, assessment) = get(format!("/api/v1/assessments/{member}?{at}")).await;
    assert_eq!(status, 200, "{assessment}");
    assert_eq!(assessment.get("outcome"), None, "{assessment}");
    assert_eq!(
        assessment["appraisal"],
        serde_json::Value::Null,
        "no appraisal yet"
    );
    assert!(
        assessment["card"]["community"]["opinion"].is_string()
            || assessment["card"]["unit"]["opinion"].is_string(),
        "{assessment}"
    );
    assert!(assessment["disagreements"].is_array(), "{assessment}");

    // The county's figures: the old meetings count by their headcount, unnamed.
    let (status, figures) = get(format!("/api/v1/figures?{at}")).await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["members_registered"], 200, "{figures}");
    assert!(
        figures["person_times"]["n"].as_u64().is_some_and(|n| n > 0),
        "{figures}"
    );

    let (status, card) = get(format!("/api/v1/cards/{member}?year=2025")).await;
    assert_eq!(status, 200, "{card}");
    let sides = [&card["community"]["signed"], &card["unit"]["signed"]];
    assert!(
        sides
            .iter()
            .any(|s| s["capacity"] == "secretary" && s["opinion"].is_string()),
        "a version 1 signature reads as the secretary's opinion: {card}"
    );
    terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops within 30 s")
        .expect("wait");
    assert!(exit.success(), "serve stopped cleanly: {exit}");
}
