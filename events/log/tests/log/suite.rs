//! Behaviour every backend must show.

use crate::world::{World, request, stream};
use allweather_events::Payload;
use allweather_log::{AppendError, ExpectedVersion, InvalidAppend, Log, StreamWrite};
use allweather_test_support::eventually;
use futures::StreamExt;
use std::collections::HashSet;
use std::time::Duration;

/// Appends `per_task` single-event commands from each of `tasks` concurrent callers, each
/// caller on a stream of its own; returns every position handed out.
async fn hammer(log: &Log, tag: &str, tasks: usize, per_task: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (log, s) = (log.clone(), stream(&format!("{tag}{t}")));
            tokio::spawn(async move {
                let mut positions = Vec::with_capacity(per_task);
                for v in 0..per_task as u64 {
                    let outcome = log
                        .append(request(&s, ExpectedVersion::Exact(v), 1))
                        .await
                        .expect("append");
                    positions.push(outcome.position());
                }
                positions
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    all
}

fn assert_gapless(mut positions: Vec<u64>, n: u64) {
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=n).collect::<Vec<_>>(),
        "positions must be exactly 1..={n}"
    );
}

async fn assert_chain_valid(log: &Log, n: u64) {
    let report = log.verify(|_| {}).await.expect("verify");
    assert_eq!(report.broken, None);
    assert_eq!(report.verified, n);
    assert_eq!(report.head, log.head().await.expect("head").hash);
}

pub async fn concurrent_appends_get_gapless_positions_and_one_valid_chain(world: World) {
    let log = world.open().await;
    let positions = hammer(&log, "c", 32, 20).await;
    assert_gapless(positions, 640);
    assert_chain_valid(&log, 640).await;
}

pub async fn two_appenders_in_two_pools_interleave_without_gaps(world: World) {
    let (a, b) = (world.open().await, world.open().await);
    let (pa, pb) = tokio::join!(hammer(&a, "a", 16, 125), hammer(&b, "b", 16, 125));
    assert!(!pa.is_empty() && !pb.is_empty());
    assert_gapless(pa.into_iter().chain(pb).collect(), 4_000);
    assert_chain_valid(&a, 4_000).await;
    assert_chain_valid(&b, 4_000).await;
}

pub async fn a_live_tail_sees_every_commit_once_in_order_through_slow_and_rolled_back_writes(
    world: World,
) {
    let log = world.open().await;
    let reader = world.open().await;
    let mut tail = Box::pin(reader.tail(0));
    let total = 1_500u64;
    let collect = tokio::spawn(async move {
        let mut seen = Vec::new();
        while (seen.len() as u64) < total {
            let event = tokio::time::timeout(Duration::from_secs(60), tail.next())
                .await
                .expect("the tail stalled")
                .expect("the tail ended")
                .expect("tail read");
            seen.push((event.position, event.event_id));
        }
        seen
    });
    let writers = hammer(&log, "w", 10, 150);
    let saboteur = async {
        for _ in 0..5 {
            world
                .slow_rolled_back_write(Duration::from_millis(150))
                .await;
        }
    };
    let (positions, ()) = tokio::join!(writers, saboteur);
    assert_gapless(positions, total);
    let seen = collect.await.expect("collector");
    let order: Vec<u64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        order,
        (1..=total).collect::<Vec<_>>(),
        "every position once, in order"
    );
    let committed: HashSet<_> = log
        .read_all(0, 10_000)
        .await
        .expect("read")
        .iter()
        .map(|e| e.event_id)
        .collect();
    let tailed: HashSet<_> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        tailed, committed,
        "the tail saw exactly the committed events"
    );
    assert_chain_valid(&log, total).await;
}

pub async fn update_and_delete_on_events_are_refused_by_the_database(world: World) {
    let log = world.open().await;
    log.append(request(&stream("x"), ExpectedVersion::NoStream, 3))
        .await
        .expect("append");
    let before = log.read_all(0, 10).await.expect("read");
    for sql in [
        "UPDATE events SET payload = '{}' WHERE position = 2",
        "DELETE FROM events WHERE position = 3",
        "UPDATE commands SET last_position = 1",
        "DELETE FROM commands",
    ] {
        let err = world.exec(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(log.read_all(0, 10).await.expect("read"), before);
    assert_chain_valid(&log, 3).await;
}

pub async fn a_stale_expected_version_is_a_version_conflict_and_writes_nothing(world: World) {
    let log = world.open().await;
    let s = stream("v");
    log.append(request(&s, ExpectedVersion::NoStream, 2))
        .await
        .expect("append");
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(1),
        ExpectedVersion::Exact(3),
    ] {
        match log.append(request(&s, expected, 1)).await {
            Err(AppendError::VersionConflict {
                actual: 2,
                stream_id,
                ..
            }) => assert_eq!(stream_id, s.as_str()),
            other => panic!("expected {expected}: got {other:?}"),
        }
    }
    assert_eq!(log.head().await.expect("head").position, 2);
    assert_eq!(log.stream_version(&s).await.expect("version"), 2);
    let ok = log
        .append(request(&s, ExpectedVersion::Exact(2), 1))
        .await
        .expect("append at v2");
    assert_eq!((ok.position(), ok.events[0].stream_version), (3, 3));
}

pub async fn of_two_appends_expecting_the_same_version_exactly_one_commits(world: World) {
    let log = world.open().await;
    for round in 0..20 {
        let s = stream(&format!("race{round}"));
        log.append(request(&s, ExpectedVersion::NoStream, 1))
            .await
            .expect("first");
        let (x, y) = tokio::join!(
            log.append(request(&s, ExpectedVersion::Exact(1), 1)),
            log.append(request(&s, ExpectedVersion::Exact(1), 1))
        );
        let (won, lost) = match (x, y) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            other => panic!("round {round}: exactly one must win, got {other:?}"),
        };
        assert_eq!(won.events[0].stream_version, 2, "round {round}");
        assert!(
            matches!(lost, AppendError::VersionConflict { actual: 2, .. }),
            "round {round}: {lost:?}"
        );
    }
    assert_chain_valid(&log, 40).await;
}

/// An appender decides its next batches on the stream versions its own commits left; a
/// write by another appender (another process) must make it look again.
pub async fn an_appender_acts_on_no_stale_version_after_another_appender_wrote(world: World) {
    let (a, b) = (world.open().await, world.open().await);
    let (s, t) = (stream("known-s"), stream("known-t"));
    a.append(request(&s, ExpectedVersion::NoStream, 1))
        .await
        .expect("a creates s");
    a.append(request(&t, ExpectedVersion::NoStream, 1))
        .await
        .expect("a creates t");
    b.append(request(&s, ExpectedVersion::Exact(1), 2))
        .await
        .expect("b writes s to v3");
    // `a` last saw s at 1: it must not act on that.
    match a.append(request(&s, ExpectedVersion::Exact(1), 1)).await {
        Err(AppendError::VersionConflict { actual: 3, .. }) => {}
        other => panic!("a stale expectation must conflict at the true version: {other:?}"),
    }
    let any = a
        .append(request(&s, ExpectedVersion::Any, 1))
        .await
        .expect("a appends to s at any version");
    assert_eq!(
        (any.position(), any.events[0].stream_version),
        (5, 4),
        "after b's two events"
    );
    // A stream only `a` wrote, after b moved the head.
    let next = a
        .append(request(&t, ExpectedVersion::Exact(1), 1))
        .await
        .expect("a appends to t");
    assert_eq!((next.position(), next.events[0].stream_version), (6, 2));
    // And `b`, which saw none of a's later writes, the same.
    match b.append(request(&s, ExpectedVersion::Exact(3), 1)).await {
        Err(AppendError::VersionConflict { actual: 4, .. }) => {}
        other => panic!("b's stale expectation must conflict: {other:?}"),
    }
    // A condition writes no event, so no key would catch a stale version of it: b moves s
    // on, a writes t (its head is its own again), then a's condition on s must be checked.
    b.append(request(&s, ExpectedVersion::Exact(4), 1))
        .await
        .expect("b writes s to v5");
    a.append(request(&t, ExpectedVersion::Exact(2), 1))
        .await
        .expect("a writes t to v3");
    let mut conditioned = request(&stream("known-u"), ExpectedVersion::NoStream, 1);
    conditioned.also.push(StreamWrite {
        stream_id: s.clone(),
        expected_version: ExpectedVersion::Exact(4),
        events: vec![],
    });
    match a.append(conditioned).await {
        Err(AppendError::VersionConflict { actual: 5, .. }) => {}
        other => panic!("a stale condition must conflict: {other:?}"),
    }
    assert_chain_valid(&a, 8).await;
}

pub async fn a_repeated_command_returns_the_first_result_and_writes_nothing(world: World) {
    let log = world.open().await;
    let first = request(&stream("idem"), ExpectedVersion::NoStream, 2);
    let original = log.append(first.clone()).await.expect("append");
    assert!(!original.replayed);
    // A repeat (even one whose expected version is now stale) returns the first result.
    let again = log.append(first.clone()).await.expect("repeat");
    assert_eq!(
        (again.events.clone(), again.replayed),
        (original.events.clone(), true)
    );
    assert_eq!(log.head().await.expect("head").position, 2);
    // A repeat whose expected version happens to be current again is still a repeat.
    let mut current = first.clone();
    current.expected_version = ExpectedVersion::Exact(2);
    let again = log
        .append(current)
        .await
        .expect("repeat at the current version");
    assert_eq!(
        (again.events.clone(), again.replayed),
        (original.events.clone(), true)
    );
    assert_eq!(log.head().await.expect("head").position, 2);
    // The same command id for another stream is refused, not silently replayed.
    let mut reused = request(&stream("other"), ExpectedVersion::Any, 1);
    reused.command_id = first.command_id;
    assert!(matches!(
        log.append(reused).await,
        Err(AppendError::CommandIdReused { .. })
    ));
    assert_eq!(log.head().await.expect("head").position, 2);
}

pub async fn concurrent_repeats_of_one_command_across_appenders_write_once(world: World) {
    let (a, b) = (world.open().await, world.open().await);
    for round in 0..10 {
        let req = request(
            &stream(&format!("dup{round}")),
            ExpectedVersion::NoStream,
            1,
        );
        let calls: Vec<_> = (0..16)
            .map(|i| {
                let (log, req) = (if i % 2 == 0 { a.clone() } else { b.clone() }, req.clone());
                tokio::spawn(async move { log.append(req).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for c in calls {
            outcomes.push(c.await.expect("task").expect("append"));
        }
        let events: HashSet<_> = outcomes.iter().map(|o| o.events.clone()).collect();
        assert_eq!(
            events.len(),
            1,
            "round {round}: every repeat returns the first result"
        );
        assert_eq!(
            outcomes.iter().filter(|o| !o.replayed).count(),
            1,
            "round {round}: one original"
        );
    }
    assert_chain_valid(&a, 10).await;
}

pub async fn verify_names_the_first_tampered_position(world: World) {
    let log = world.open().await;
    for i in 0..10 {
        log.append(request(
            &stream(&format!("t{i}")),
            ExpectedVersion::NoStream,
            1,
        ))
        .await
        .expect("append");
    }
    assert_chain_valid(&log, 10).await;
    world.tamper(4).await;
    let report = log.verify(|_| {}).await.expect("verify");
    let broken = report.broken.expect("tampering must be found");
    assert_eq!(broken.position(), 4, "{broken}");
    assert_eq!(report.verified, 3);
}

pub async fn streams_read_from_a_version_and_the_log_reads_in_pages(world: World) {
    let log = world.open().await;
    let (s, other) = (stream("read"), stream("noise"));
    for _ in 0..5 {
        log.append(request(&s, ExpectedVersion::Any, 1))
            .await
            .expect("append");
        log.append(request(&other, ExpectedVersion::Any, 1))
            .await
            .expect("append");
    }
    let tail_of_stream = log.read_stream(&s, 3, 100).await.expect("read stream");
    assert_eq!(
        tail_of_stream
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert!(tail_of_stream.iter().all(|e| e.stream_id == s));
    assert!(
        log.read_stream(&stream("none"), 1, 100)
            .await
            .expect("read")
            .is_empty()
    );
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = log.read_all(after, 3).await.expect("page");
        let Some(last) = page.last() else { break };
        assert_eq!(page[0].position, after + 1);
        after = last.position;
        pages += 1;
    }
    assert_eq!((after, pages), (10, 4));
    let stored = &log.read_all(0, 1).await.expect("read")[0];
    assert_eq!(
        stored.payload,
        Payload::from_value(&serde_json::json!({"i": 0, "note": "probe"})).expect("payload")
    );
}

pub async fn invalid_appends_are_refused_before_the_database(world: World) {
    let log = world.open().await;
    let s = stream("bad");
    let mut empty = request(&s, ExpectedVersion::Any, 1);
    empty.events.clear();
    let mut oversized = request(&s, ExpectedVersion::Any, 1);
    let big = "x".repeat(log.limits().max_payload_bytes + 1);
    oversized.events[0].payload =
        Payload::from_value(&serde_json::json!({ "text": big })).expect("payload");
    let mut bad_type = request(&s, ExpectedVersion::Any, 1);
    bad_type.events[0].event_type = "drop table".into();
    type Expect = fn(&InvalidAppend) -> bool;
    let cases: [(&str, _, Expect); 3] = [
        ("no events", empty, |e| matches!(e, InvalidAppend::NoEvents)),
        ("oversized", oversized, |e| {
            matches!(e, InvalidAppend::PayloadTooLarge { .. })
        }),
        ("bad type", bad_type, |e| {
            matches!(e, InvalidAppend::BadEventType(_))
        }),
    ];
    for (name, req, expected) in cases {
        match log.append(req).await {
            Err(AppendError::Invalid(e)) => assert!(expected(&e), "{name}: {e}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(log.head().await.expect("head").position, 0);
}

pub async fn a_read_only_database_refuses_appends_with_a_clear_error(world: World) {
    let log = world.open().await;
    log.append(request(&stream("ro"), ExpectedVersion::NoStream, 1))
        .await
        .expect("append");
    let read_only = world.open_read_only().await;
    let err = read_only
        .append(request(&stream("ro2"), ExpectedVersion::Any, 1))
        .await
        .expect_err("read-only");
    assert!(matches!(err, AppendError::ReadOnly(_)), "{err:?}");
    assert!(err.to_string().starts_with("the log is read-only"), "{err}");
    // Reading and verifying still work on a read-only database.
    assert_eq!(read_only.head().await.expect("head").position, 1);
    assert_chain_valid(&read_only, 1).await;
}

pub async fn shutdown_commits_what_was_accepted_and_refuses_the_rest(world: World) {
    let log = world.open().await;
    let calls: Vec<_> = (0..300)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(request(
                    &stream(&format!("sd{i}")),
                    ExpectedVersion::NoStream,
                    1,
                ))
                .await
            })
        })
        .collect();
    eventually(
        "some appends to commit",
        Duration::from_secs(30),
        || async { (log.head().await.ok()?.position > 0).then_some(()) },
    )
    .await;
    log.shutdown().await;
    let mut accepted = Vec::new();
    for c in calls {
        match c.await.expect("task") {
            Ok(outcome) => accepted.push(outcome.position()),
            Err(AppendError::ShuttingDown) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let reader = world.open().await;
    let n = reader.head().await.expect("head").position;
    assert_gapless(accepted, n);
    assert_chain_valid(&reader, n).await;
    assert!(matches!(
        log.append(request(&stream("late"), ExpectedVersion::Any, 1))
            .await,
        Err(AppendError::ShuttingDown)
    ));
}

pub async fn reopening_continues_the_chain(world: World) {
    let log = world.open().await;
    hammer(&log, "r", 4, 5).await;
    log.shutdown().await;
    drop(log);
    let again = world.open().await;
    let outcome = again
        .append(request(&stream("r0"), ExpectedVersion::Exact(5), 1))
        .await
        .expect("append");
    assert_eq!(outcome.position(), 21);
    assert_chain_valid(&again, 21).await;
}

pub async fn an_append_to_several_streams_commits_whole_or_not_at_all_and_may_hold_conditions(
    world: World,
) {
    let log = world.open().await;
    let (main, guard) = (stream("main"), stream("guard"));
    let mut first = request(&main, ExpectedVersion::NoStream, 1);
    first.also.push(StreamWrite {
        stream_id: guard.clone(),
        expected_version: ExpectedVersion::NoStream,
        events: request(&guard, ExpectedVersion::Any, 2).events,
    });
    let outcome = log.append(first.clone()).await.expect("append");
    let placed: Vec<(String, u64, u64)> = outcome
        .events
        .iter()
        .map(|e| (e.stream_id.clone(), e.stream_version, e.position))
        .collect();
    assert_eq!(
        placed,
        vec![
            ("probe-main".into(), 1, 1),
            ("probe-guard".into(), 1, 2),
            ("probe-guard".into(), 2, 3)
        ]
    );
    let recorded = log.recorded(first.command_id).await.expect("recorded");
    assert_eq!(recorded.map(|o| o.events), Some(outcome.events));

    // The first stream's expectation holds but the second's does not: nothing commits.
    let mut second = request(&main, ExpectedVersion::Exact(1), 1);
    second.also.push(StreamWrite {
        stream_id: guard.clone(),
        expected_version: ExpectedVersion::Exact(1),
        events: request(&guard, ExpectedVersion::Any, 1).events,
    });
    let refused = log.append(second.clone()).await;
    assert!(
        matches!(&refused, Err(AppendError::VersionConflict { stream_id, actual: 2, .. }) if stream_id == "probe-guard"),
        "{refused:?}"
    );
    assert_eq!(log.head().await.expect("head").position, 3);
    assert_eq!(log.stream_version(&main).await.expect("version"), 1);
    assert_eq!(
        log.recorded(second.command_id).await.expect("recorded"),
        None
    );

    // A stream without events is a condition: it must be at its version, and stays there.
    let condition = |version| StreamWrite {
        stream_id: guard.clone(),
        expected_version: version,
        events: vec![],
    };
    let mut stale = request(&main, ExpectedVersion::Exact(1), 1);
    stale.also.push(condition(ExpectedVersion::Exact(1)));
    assert!(matches!(
        log.append(stale).await,
        Err(AppendError::VersionConflict { actual: 2, .. })
    ));
    let mut current = request(&main, ExpectedVersion::Exact(1), 1);
    current.also.push(condition(ExpectedVersion::Exact(2)));
    let outcome = log.append(current).await.expect("append");
    assert_eq!(
        outcome
            .events
            .iter()
            .map(|e| e.stream_id.as_str())
            .collect::<Vec<_>>(),
        ["probe-main"]
    );
    assert_eq!(log.stream_version(&guard).await.expect("version"), 2);
    let mut absent = request(&main, ExpectedVersion::Exact(2), 1);
    absent.also.push(StreamWrite {
        stream_id: stream("absent"),
        expected_version: ExpectedVersion::NoStream,
        events: vec![],
    });
    log.append(absent)
        .await
        .expect("a condition on an absent stream");
    assert_eq!(
        log.stream_version(&stream("absent"))
            .await
            .expect("version"),
        0
    );

    // The same stream twice in one append is refused before the database.
    let mut twice = request(&main, ExpectedVersion::Exact(3), 1);
    twice.also.push(StreamWrite {
        stream_id: main.clone(),
        expected_version: ExpectedVersion::Exact(3),
        events: request(&main, ExpectedVersion::Any, 1).events,
    });
    assert!(matches!(
        log.append(twice).await,
        Err(AppendError::Invalid(InvalidAppend::StreamTwice(_)))
    ));
    assert_chain_valid(&log, 5).await;
}

/// The credential tables: a code is used once and only before it expires, a second code
/// ends the first, a sign-in name is one account's, using a code ends the account's
/// sessions, and disabling ends its sessions and codes at once.
pub async fn sign_in_codes_and_sessions_are_kept_as_hashes_used_once_and_ended_on_disable(
    world: World,
) {
    use allweather_log::Redeemed;
    let log = world.open().await;
    let accounts = log.accounts();
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    accounts.put(a, "member", Some(a), 1).await.expect("put a");
    accounts.put(b, "auditor", None, 1).await.expect("put b");
    accounts.put_code(a, b"first", 10, 100).await.expect("code");
    accounts
        .put_code(a, b"second", 10, 100)
        .await
        .expect("code");
    assert_eq!(
        accounts.by_code(b"first", 20).await.expect("read"),
        None,
        "a new code ends the old"
    );
    let found = accounts
        .by_code(b"second", 20)
        .await
        .expect("read")
        .expect("code");
    assert_eq!((found.account_id, found.login.as_deref()), (a, None));
    assert_eq!(
        accounts.by_code(b"second", 100).await.expect("read"),
        None,
        "expired"
    );

    accounts
        .open_session(b"s1", a, "csrf", 20, 1000)
        .await
        .expect("session");
    assert!(accounts.session(b"s1", 30).await.expect("read").is_some());
    assert_eq!(
        accounts
            .redeem(b"second", "ann", "$argon2id$x", 100)
            .await
            .expect("redeem"),
        Redeemed::NoSuchCode,
        "expired"
    );
    let Redeemed::Account(row) = accounts
        .redeem(b"second", "ann", "$argon2id$x", 30)
        .await
        .expect("redeem")
    else {
        panic!("redeemed")
    };
    assert_eq!(
        (row.login.as_deref(), row.password_hash.as_deref()),
        (Some("ann"), Some("$argon2id$x"))
    );
    assert!(
        accounts.session(b"s1", 30).await.expect("read").is_none(),
        "a code ends earlier sessions"
    );
    assert_eq!(
        accounts
            .redeem(b"second", "ann", "h", 31)
            .await
            .expect("again"),
        Redeemed::NoSuchCode,
        "used once"
    );

    accounts
        .put_code(b, b"b-code", 40, 1000)
        .await
        .expect("code");
    assert_eq!(
        accounts
            .redeem(b"b-code", "ann", "h", 41)
            .await
            .expect("redeem"),
        Redeemed::LoginTaken
    );
    assert!(
        accounts
            .by_code(b"b-code", 42)
            .await
            .expect("read")
            .is_some(),
        "a refused redeem uses nothing"
    );

    assert_eq!(accounts.failed(a).await.expect("failed"), 1);
    assert_eq!(accounts.failed(a).await.expect("failed"), 2);
    accounts.lock(a, 500).await.expect("lock");
    let row = accounts.by_login("ann").await.expect("read").expect("ann");
    assert_eq!((row.failures, row.locked_until_us), (2, Some(500)));
    accounts.succeeded(a).await.expect("ok");
    let row = accounts.by_id(a).await.expect("read").expect("a");
    assert_eq!((row.failures, row.locked_until_us), (0, None));

    accounts
        .open_session(b"s2", a, "csrf", 50, 1000)
        .await
        .expect("session");
    accounts
        .open_session(b"s3", a, "csrf", 50, 1000)
        .await
        .expect("session");
    accounts.close_session(b"s2").await.expect("close");
    assert!(accounts.session(b"s2", 60).await.expect("read").is_none());
    assert!(accounts.session(b"s3", 60).await.expect("read").is_some());
    assert!(
        accounts.session(b"s3", 1000).await.expect("read").is_none(),
        "past its end"
    );
    accounts
        .put_code(a, b"third", 60, 1000)
        .await
        .expect("code");
    assert!(accounts.disable(a).await.expect("disable"));
    assert!(
        accounts.session(b"s3", 60).await.expect("read").is_none(),
        "disabled: no session"
    );
    assert!(
        accounts
            .by_code(b"third", 60)
            .await
            .expect("read")
            .is_none(),
        "disabled: no code"
    );
    assert!(
        !accounts
            .disable(uuid::Uuid::now_v7())
            .await
            .expect("disable"),
        "no such account"
    );
    accounts
        .put(a, "member", Some(a), 70)
        .await
        .expect("invited again");
    assert!(!accounts.by_id(a).await.expect("read").expect("a").disabled);
}
