//! The CI smoke check of `allweather-bench`: every section runs on the servers given and
//! reports its rows with their baselines and ratios. It asserts nothing about speed.

use allweather_test_support::{NatsServer, TestDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_allweather-bench");

#[test]
fn bench_quick_runs_every_section_into_one_report() {
    let db = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(TestDatabase::create());
    let nats = NatsServer::start();
    let out = tempfile::tempdir().expect("tempdir");
    let nats_url = nats.url();
    let result = run(&[
        "--quick",
        "--database",
        db.url(),
        "--nats",
        &nats_url,
        "--out",
        out.path().to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let markdown = std::fs::read_to_string(out.path().join("bench.md")).expect("bench.md");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("bench.json")).expect("json"))
            .expect("bench.json");
    assert_eq!(json["skipped"], serde_json::json!([]), "{markdown}");
    let sections = &json["sections"];
    let positive = |v: &serde_json::Value| v.as_f64().is_some_and(|r| r > 0.0);

    // Append: 2 raw baselines + 4 caller counts, on SQLite and PostgreSQL.
    let append = sections["append"].as_array().expect("append rows");
    assert_eq!(append.len(), 12, "{markdown}");
    for row in append {
        for field in ["events_per_s", "ratio", "ratio_to_same_rows"] {
            assert!(positive(&row[field]), "{field}: {row}");
        }
    }
    assert!(
        markdown.contains("| PostgreSQL | log append, 256 callers |"),
        "{markdown}"
    );

    // Peer: both sides at 1 and 64 callers.
    let peer = sections["peer"].as_array().expect("peer rows");
    assert_eq!(peer.len(), 2, "{markdown}");
    for row in peer {
        assert!(positive(&row["peer"]["commands_per_s"]), "{row}");
        assert!(positive(&row["allweather"]["commands_per_s"]), "{row}");
        assert!(positive(&row["ratio"]), "{row}");
    }

    // Commands: the mix and the peer's workload over HTTP against the peer, and a storm
    // with one winner per wish.
    let commands = &sections["commands"];
    assert!(positive(&commands["mix"]["commands_per_s"]), "{commands}");
    assert!(positive(&commands["mix"]["ratio_to_peer"]), "{commands}");
    for name in [
        "LogServiceHours",
        "VerifyServiceHours",
        "ClaimWish",
        "FulfilWish",
        "SignDualCard",
    ] {
        assert!(
            commands["mix"]["by_command"][name]["count"]
                .as_u64()
                .is_some_and(|n| n > 0),
            "{name}: {commands}"
        );
    }
    assert!(
        positive(&commands["meetings"]["ratio_to_peer"]),
        "{commands}"
    );
    let storm = &commands["storm"];
    assert_eq!(storm["answers"]["200 claimed"], storm["wishes"], "{storm}");
    let answered: u64 = storm["answers"]
        .as_object()
        .expect("answers")
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(Some(answered), storm["clients"].as_u64(), "{storm}");

    // Relay: raw publishes and the relay.
    let relay = sections["relay"].as_array().expect("relay rows");
    assert_eq!(relay.len(), 2, "{markdown}");
    assert!(
        relay.iter().all(|r| positive(&r["events_per_s"])),
        "{markdown}"
    );

    // End to end: to a live subscriber and to a projector.
    let e2e = sections["e2e"].as_array().expect("e2e rows");
    assert_eq!(e2e.len(), 2, "{markdown}");
    for row in e2e {
        let (p50, p99, max) = (
            row["p50_ms"].as_f64().unwrap_or(-1.0),
            row["p99_ms"].as_f64().unwrap_or(-1.0),
            row["max_ms"].as_f64().unwrap_or(-1.0),
        );
        assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{row}");
        assert!(positive(&row["rate_accepted"]), "{row}");
    }

    // Rebuild: the raw scan, each projector and all four, on both backends.
    let rebuild = sections["rebuild"].as_array().expect("rebuild rows");
    for backend in ["SQLite", "PostgreSQL"] {
        for workload in [
            "raw scan + decode",
            "rebuild leaderboard",
            "rebuild wishes",
            "rebuild integrity",
            "rebuild scorecard",
            "rebuild all four at once",
        ] {
            assert!(
                rebuild
                    .iter()
                    .any(|r| r["backend"] == backend && r["workload"] == workload),
                "{backend} {workload}: {markdown}"
            );
        }
    }
    for row in rebuild {
        assert!(
            positive(&row["events_per_s"]) && positive(&row["ratio"]),
            "{row}"
        );
        assert!(row["events"].as_u64().is_some_and(|n| n > 500), "{row}");
    }

    // Memory: serve rebuilding and holding the county.
    let memory = &sections["memory"];
    for phase in ["rebuild", "holding"] {
        assert!(
            memory[phase]["peak_rss_bytes"]
                .as_u64()
                .is_some_and(|b| b > 1 << 20),
            "{memory}"
        );
    }
    assert!(
        memory["events"].as_u64().is_some_and(|n| n > 500),
        "{memory}"
    );

    // A peer program that is not there is named, and nothing runs.
    let missing = run(&[
        "peer",
        "--database",
        db.url(),
        "--peer",
        "/nonexistent/peer",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("there is no peer program at /nonexistent/peer"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("ALLWEATHER_BIN", allweather())
        .output()
        .expect("run allweather-bench")
}

/// The `allweather` program the memory section measures: built beside the bench when the
/// workspace's tests are built (`cargo test --workspace`, as `deploy/test.sh` runs them).
fn allweather() -> std::path::PathBuf {
    let path = std::path::Path::new(BIN).with_file_name("allweather");
    assert!(
        path.is_file(),
        "{} is not built: run the tests with --workspace (deploy/test.sh)",
        path.display()
    );
    path
}
