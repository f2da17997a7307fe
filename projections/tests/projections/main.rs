//! The projectors against real servers: the same read model from the log and from the
//! JetStream mirror, and a batch that fails midway leaves nothing behind. Every test runs
//! on SQLite and on PostgreSQL.
//!
//! Also: a random demo county's year (a fresh seed each run, printed on failure; over 2,000
//! commands) goes through the command path while every projector follows live, then the
//! log is replayed into a fresh store and every table compared row for row; a shadow
//! rebuild swaps in whole while a reader counts rows and the live projector keeps running;
//! and a batch of writes ends as one statement per change would have left it.

mod workload;

use allweather_log::{Log, LogOptions};
use allweather_projections::leaderboard::{self, Leaderboard};
use allweather_projections::runner::{self, ProjectionError};
use allweather_projections::wishes;
use allweather_projections::writes::{Change, Table, Value, Writes};
use allweather_projections::{
    EventSource, JetStreamSource, LogSource, Progress, Projector, ReadStore,
};
use allweather_test_support::{NatsServer, TestDatabase, TestSqlite, eventually};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A log and two read stores of its own.
#[allow(missing_debug_implementations)] // it only holds the fixtures alive
pub struct World {
    log_url: String,
    stores: [String; 2],
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

impl World {
    async fn postgres() -> World {
        let (log, a, b) = (
            TestDatabase::create().await,
            TestDatabase::create().await,
            TestDatabase::create().await,
        );
        World {
            log_url: log.url().to_owned(),
            stores: [a.url().to_owned(), b.url().to_owned()],
            _keep: vec![Box::new(log), Box::new(a), Box::new(b)],
        }
    }

    async fn sqlite() -> World {
        let (log, a, b) = (
            TestSqlite::create(),
            TestSqlite::create(),
            TestSqlite::create(),
        );
        World {
            log_url: log.url(),
            stores: [a.url(), b.url()],
            _keep: vec![Box::new(log), Box::new(a), Box::new(b)],
        }
    }

    async fn log(&self) -> Log {
        Log::open(LogOptions::new(self.log_url.clone()))
            .await
            .expect("open the log")
    }

    async fn store(&self, i: usize) -> ReadStore {
        ReadStore::open(&self.stores[i])
            .await
            .expect("open a read store")
    }
}

allweather_test_support::on_both_backends!(
    crate;
    postgres = World::postgres().await;
    sqlite = World::sqlite().await;
    the_log_and_the_jetstream_mirror_build_the_same_read_models,
    a_batch_that_fails_midway_leaves_nothing_and_a_restart_equals_a_rebuild,
    a_rebuild_swaps_in_whole_while_queries_and_the_live_projector_go_on,
    after_a_random_county_year_every_rebuilt_read_model_equals_the_live_one,
    a_batch_of_writes_ends_as_one_statement_per_change_would,
    jetstream_projectors_ride_out_nats_losing_its_store_and_equal_the_log,
);

/// The relay, mirroring a log into JetStream in-process until stopped.
struct Relay {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), allweather_relay::RelayError>>,
}

impl Relay {
    fn start(log: &Log, client: &async_nats::Client) -> (allweather_relay::RelaySettings, Relay) {
        let settings = allweather_relay::RelaySettings::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(allweather_relay::run(
            log.clone(),
            client.clone(),
            settings.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        (settings, Relay { stop, task })
    }

    /// Waits until the mirror's last sequence is `head`.
    async fn mirrored(
        &self,
        client: &async_nats::Client,
        settings: &allweather_relay::RelaySettings,
        head: u64,
    ) {
        let js = async_nats::jetstream::new(client.clone());
        eventually(
            &format!("the mirror to hold the log to {head}"),
            Duration::from_secs(60),
            || async {
                let mut stream = js.get_stream(&settings.stream).await.ok()?;
                (stream.info().await.ok()?.state.last_sequence == head).then_some(())
            },
        )
        .await;
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("relay");
    }
}

/// Runs `projector` from `source` until it has applied `head`, or fails.
async fn project_to(
    store: &ReadStore,
    projector: &dyn Projector,
    source: impl EventSource,
    head: u64,
) -> Result<(), ProjectionError> {
    let (progress_tx, progress): (_, Progress) =
        runner::prepare(store, projector).await.expect("prepare");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = runner::run(store, projector, source, &progress_tx, async {
        let _ = stopped.await;
    });
    tokio::pin!(run);
    tokio::select! {
        ran = &mut run => {
            ran?;
            panic!("the projector stopped before position {head}");
        }
        reached = progress.reached(head, Duration::from_secs(60)) => {
            assert!(reached, "the projector reached position {head}");
            let _ = stop.send(());
            run.await
        }
    }
}

pub async fn the_log_and_the_jetstream_mirror_build_the_same_read_models(world: World) {
    let log = world.log().await;
    let expected = workload::county_year(&log).await;
    let head = log.head().await.expect("head").position;

    let from_log = world.store(0).await;
    for projector in allweather_projections::all() {
        project_to(&from_log, projector, LogSource::new(log.clone()), head)
            .await
            .expect("project from the log");
    }

    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let (settings, relay) = Relay::start(&log, &client);
    relay.mirrored(&client, &settings, head).await;
    let from_nats = world.store(1).await;
    for projector in allweather_projections::all() {
        let source = JetStreamSource::new(
            client.clone(),
            &settings.stream,
            projector.name(),
            0,
            log.clone(),
        )
        .await
        .expect("consumer");
        project_to(&from_nats, projector, source, head)
            .await
            .expect("project from JetStream");
    }

    // A one-off replay through an ordered consumer builds the same scorecard.
    let mut reached = Vec::new();
    let (replayed, at) = allweather_projections::scorecard::scratch_from_mirror(
        client.clone(),
        &settings.stream,
        |p| reached.push(p),
    )
    .await
    .expect("replay the mirror");
    assert_eq!(at, head);
    assert!(reached.windows(2).all(|w| w[0] < w[1]) && reached.last() == Some(&head));
    let scorecard = allweather_projections::scorecard::Scorecard;
    assert_eq!(
        scorecard.dump(replayed.pool()).await.expect("dump"),
        scorecard.dump(from_log.pool()).await.expect("dump"),
        "the ordered replay equals the projection from the log"
    );

    for projector in allweather_projections::all() {
        let (a, b) = (
            projector.dump(from_log.pool()).await.expect("dump"),
            projector.dump(from_nats.pool()).await.expect("dump"),
        );
        assert!(!a.is_empty(), "{}", projector.name());
        assert_eq!(
            a,
            b,
            "the same {} model from both sources",
            projector.name()
        );
    }
    let filter = leaderboard::Filter {
        year: 2026,
        limit: 100,
        ..Default::default()
    };
    let board = leaderboard::board(from_log.pool(), &filter)
        .await
        .expect("board");
    let got: Vec<(String, i64, i64)> = board
        .iter()
        .map(|e| (e.member_id.clone(), e.minutes, e.points_hundredths))
        .collect();
    assert_eq!(
        got, expected,
        "verified minutes and points per member, ranked, ties by member id"
    );

    let board = wishes::board(from_log.pool(), None, 100)
        .await
        .expect("wishes");
    let mut statuses: Vec<&str> = board.iter().map(|w| w.status.as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [
            "cancelled",
            "claimed",
            "confirmed",
            "confirmed",
            "fulfilled",
            "open"
        ]
    );
    let timings = wishes::timings(from_log.pool(), 2026)
        .await
        .expect("timings");
    assert_eq!(
        (
            timings.len(),
            timings[0].to_claim.count,
            timings[0].to_fulfil.count
        ),
        (1, 5, 3),
        "{timings:?}"
    );

    relay.stop().await;
    log.shutdown().await;
}

/// Projectors following the mirror while the NATS server dies and comes back without
/// its store (the stream and their durable consumers gone): they go on once the relay
/// has refilled the stream, and their read models equal projections from the log.
pub async fn jetstream_projectors_ride_out_nats_losing_its_store_and_equal_the_log(world: World) {
    let log = world.log().await;
    let mut nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let (settings, relay) = Relay::start(&log, &client);
    workload::county_year(&log).await;
    let head = log.head().await.expect("head").position;
    relay.mirrored(&client, &settings, head).await;

    let from_nats = world.store(1).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for projector in allweather_projections::all() {
        let (progress_tx, progress) = runner::prepare(&from_nats, projector)
            .await
            .expect("prepare");
        let source = JetStreamSource::new(
            client.clone(),
            &settings.stream,
            projector.name(),
            0,
            log.clone(),
        )
        .await
        .expect("consumer");
        let (store, mut stopped) = (from_nats.clone(), stopped.clone());
        let task = tokio::spawn(async move {
            runner::run(&store, projector, source, &progress_tx, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        running.push((projector.name(), progress, task));
    }
    for (name, progress, _) in &running {
        assert!(
            progress.reached(head, Duration::from_secs(60)).await,
            "{name} reached {head}"
        );
    }

    // The server dies and its disk is lost; commands go on committing meanwhile.
    // The disk under JetStream is lost: the server comes back with no stream at all.
    nats.kill_and_lose_store();
    workload::more_branches(&log, 20).await;
    nats.restart();
    let head = log.head().await.expect("head").position;
    relay.mirrored(&client, &settings, head).await;
    for (name, progress, _) in &running {
        assert!(
            progress.reached(head, Duration::from_secs(60)).await,
            "{name} followed the refilled mirror to {head}"
        );
    }
    stop.send_replace(true);
    for (name, _, task) in running {
        task.await
            .expect("join")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    let from_log = world.store(0).await;
    for projector in allweather_projections::all() {
        project_to(&from_log, projector, LogSource::new(log.clone()), head)
            .await
            .expect("project from the log");
        assert_eq!(
            projector.dump(from_nats.pool()).await.expect("dump"),
            projector.dump(from_log.pool()).await.expect("dump"),
            "{} from the mirror that lost its store equals {0} from the log",
            projector.name()
        );
    }
    relay.stop().await;
    log.shutdown().await;
}

/// The leaderboard, failing on its `fail_at`-th event.
#[derive(Debug)]
struct Failing {
    seen: AtomicUsize,
    fail_at: usize,
}

impl Projector for Failing {
    fn name(&self) -> &'static str {
        leaderboard::NAME
    }
    fn schema(&self) -> &'static [&'static str] {
        Leaderboard.schema()
    }
    fn dump<'c>(
        &'c self,
        pool: &'c sqlx::AnyPool,
    ) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
        Leaderboard.dump(pool)
    }
    fn apply<'c>(
        &'c self,
        writes: &'c mut allweather_projections::writes::Writes,
        envelope: &'c allweather_events::Envelope,
        event: &'c allweather_domain::Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Box::pin(async {
                Err(sqlx::Error::Protocol(
                    "the projector died midway through a batch".into(),
                ))
            });
        }
        Leaderboard.apply(writes, envelope, event)
    }
}

pub async fn a_batch_that_fails_midway_leaves_nothing_and_a_restart_equals_a_rebuild(world: World) {
    let log = world.log().await;
    workload::county_year(&log).await;
    let head = log.head().await.expect("head").position;
    assert!(
        head > runner::BATCH as u64 / 2,
        "the workload spans more than the failing batch"
    );

    let store = world.store(0).await;
    let failing = Failing {
        seen: AtomicUsize::new(0),
        fail_at: 40,
    };
    let died = project_to(&store, &failing, LogSource::new(log.clone()), head).await;
    assert!(matches!(died, Err(ProjectionError::Store(_))), "{died:?}");
    assert_eq!(
        store
            .checkpoint(leaderboard::NAME)
            .await
            .expect("checkpoint"),
        0,
        "the failed batch moved no checkpoint"
    );
    assert!(
        Leaderboard
            .dump(store.pool())
            .await
            .expect("dump")
            .is_empty(),
        "the failed batch left no row"
    );

    project_to(&store, &Leaderboard, LogSource::new(log.clone()), head)
        .await
        .expect("restart");
    let rebuilt = world.store(1).await;
    project_to(&rebuilt, &Leaderboard, LogSource::new(log.clone()), head)
        .await
        .expect("rebuild");
    assert_eq!(
        Leaderboard.dump(store.pool()).await.expect("dump"),
        Leaderboard.dump(rebuilt.pool()).await.expect("dump"),
        "after the restart the read model equals a clean rebuild"
    );
    log.shutdown().await;
}

/// Counts the rows of `table` until told to stop; every count it saw, or the first error.
async fn count_rows(
    store: ReadStore,
    table: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::collections::BTreeSet<i64>, sqlx::Error> {
    let mut seen = std::collections::BTreeSet::new();
    let sql = format!("SELECT COUNT(*) FROM {table}");
    loop {
        let n: i64 = sqlx::Row::try_get(
            &sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_one(store.pool())
                .await?,
            0,
        )?;
        seen.insert(n);
        if *stop.borrow_and_update() {
            return Ok(seen);
        }
        tokio::task::yield_now().await;
    }
}

pub async fn a_rebuild_swaps_in_whole_while_queries_and_the_live_projector_go_on(world: World) {
    let log = world.log().await;
    workload::county_year(&log).await;
    let head = log.head().await.expect("head").position;
    let store = world.store(0).await;
    for projector in allweather_projections::all() {
        project_to(&store, projector, LogSource::new(log.clone()), head)
            .await
            .expect("project");
    }
    let mut built = Vec::new();
    for projector in allweather_projections::all() {
        built.push(projector.dump(store.pool()).await.expect("dump"));
    }
    let full = i64::try_from(
        built[0]
            .iter()
            .filter(|r| r.starts_with("lb_records:"))
            .count(),
    )
    .expect("count");
    // The live model is damaged (as a bug would): the rebuild must put it right.
    sqlx::query("DELETE FROM lb_records")
        .execute(store.pool())
        .await
        .expect("damage");

    // The leaderboard projector keeps running live while it is rebuilt beside it.
    let (progress_tx, progress) = runner::prepare(&store, &Leaderboard)
        .await
        .expect("prepare");
    let (stop_live, live_stopped) = tokio::sync::oneshot::channel::<()>();
    let live = {
        let (store, log) = (store.clone(), log.clone());
        tokio::spawn(async move {
            runner::run(
                &store,
                &Leaderboard,
                LogSource::new(log),
                &progress_tx,
                async {
                    let _ = live_stopped.await;
                },
            )
            .await
        })
    };
    let (stop_reading, reading) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(count_rows(store.clone(), "lb_records", reading));
    for _ in 0..2 {
        // Twice: a second rebuild finds the first one's shadow gone and starts clean.
        for projector in allweather_projections::all() {
            let mut batches = 0;
            let at = allweather_projections::rebuild(&store, projector, &log, |_| batches += 1)
                .await
                .expect("rebuild");
            assert_eq!(at, head, "{} rebuilt to the head", projector.name());
            assert!(batches > 0);
            assert_eq!(
                store
                    .checkpoint(projector.name())
                    .await
                    .expect("checkpoint"),
                head
            );
        }
    }
    stop_reading.send_replace(true);
    let seen = reader.await.expect("reader").expect("every query answered");
    assert!(
        seen.iter().all(|n| *n == 0 || *n == full),
        "readers saw the damaged table or the whole rebuilt one, never a part: {seen:?}"
    );
    assert!(seen.contains(&full), "{seen:?}");
    for (projector, before) in allweather_projections::all().into_iter().zip(&built) {
        assert_eq!(
            &projector.dump(store.pool()).await.expect("dump"),
            before,
            "{} after the swap equals the first build",
            projector.name()
        );
    }

    // New events after the swap: the live projector goes on from the rebuilt checkpoint,
    // applying each once.
    let more = workload::county_year(&log).await;
    assert!(!more.is_empty());
    let new_head = log.head().await.expect("head").position;
    assert!(
        progress.reached(new_head, Duration::from_secs(60)).await,
        "the live projector went on"
    );
    let _ = stop_live.send(());
    live.await
        .expect("live")
        .expect("the live projector never failed");
    let fresh = world.store(1).await;
    project_to(&fresh, &Leaderboard, LogSource::new(log.clone()), new_head)
        .await
        .expect("project");
    assert_eq!(
        Leaderboard.dump(store.pool()).await.expect("dump"),
        Leaderboard.dump(fresh.pool()).await.expect("dump"),
        "live after the swap equals a clean build"
    );
}

/// Thousands of commands of a random county's year (the demo's generator, a seed of the
/// moment) through the command path, while every projector follows live; then a rebuild
/// of each into a fresh store must equal the live model row for row.
pub async fn after_a_random_county_year_every_rebuilt_read_model_equals_the_live_one(world: World) {
    let log = world.log().await;
    let live = world.store(0).await;
    let mut running = Vec::new();
    let mut progress = Vec::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for projector in allweather_projections::all() {
        let (tx, rx) = runner::prepare(&live, projector).await.expect("prepare");
        progress.push(rx);
        let (store, log, mut stopped) = (live.clone(), log.clone(), stopped.clone());
        running.push(tokio::spawn(async move {
            runner::run(&store, projector, LogSource::new(log), &tx, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        }));
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let options = allweather_demo::DemoOptions {
        members: 80,
        seed,
        year: 2025,
        county_offset: chrono::FixedOffset::east_opt(8 * 3600).expect("offset"),
    };
    let plan = allweather_demo::plan(options).expect("plan");
    assert!(
        plan.steps.len() > 2_000,
        "thousands of commands: {}",
        plan.steps.len()
    );
    let clock = allweather_demo::SimClock::new(plan.steps[0].at);
    let commands = allweather_command::CommandOptions {
        clock: {
            let clock = clock.clone();
            std::sync::Arc::new(move || clock.now())
        },
        rate_limit: None,
        ..allweather_command::CommandOptions::default()
    };
    let service = allweather_command::CommandService::new(log.clone(), commands).expect("service");
    let key = allweather_command::TokenKey::from_secret(vec![7u8; 32]).expect("key");
    let outcome = allweather_demo::run(&service, &key, &plan, &clock, |_| {})
        .await
        .expect("run");
    assert!(
        outcome.refused.is_empty(),
        "seed {seed}: the demo county's commands are all in order: {:?}",
        outcome.refused
    );
    let head = log.head().await.expect("head").position;
    for (projector, p) in allweather_projections::all().into_iter().zip(&progress) {
        assert!(
            p.reached(head, Duration::from_secs(120)).await,
            "seed {seed}: {} followed the log to {head}",
            projector.name()
        );
    }
    stop.send_replace(true);
    for r in running {
        r.await
            .expect("join")
            .expect("a live projector never failed");
    }
    let rebuilt = world.store(1).await;
    for projector in allweather_projections::all() {
        runner::prepare(&rebuilt, projector).await.expect("prepare");
        let at = allweather_projections::replay(&rebuilt, projector, &log, |_| true, |_| {})
            .await
            .expect("rebuild");
        assert_eq!(at, head);
        let (a, b) = (
            projector.dump(live.pool()).await.expect("dump"),
            projector.dump(rebuilt.pool()).await.expect("dump"),
        );
        assert!(!a.is_empty(), "{}: {} rows", projector.name(), a.len());
        if a != b {
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            panic!(
                "seed {seed}: {} rebuilt differs from live ({} vs {} rows; first difference at {first:?})",
                projector.name(),
                a.len(),
                b.len()
            );
        }
    }
}

static T: Table = Table {
    name: "wt",
    columns: &["k", "n", "s", "o"],
};

async fn rows_of(pool: &sqlx::AnyPool) -> Vec<(String, i64, String, Option<String>)> {
    sqlx::query_as("SELECT k, n, s, o FROM wt ORDER BY k")
        .fetch_all(pool)
        .await
        .expect("read wt")
}

pub async fn a_batch_of_writes_ends_as_one_statement_per_change_would(world: World) {
    let store = world.store(0).await;
    sqlx::query("CREATE TABLE wt (k TEXT PRIMARY KEY, n BIGINT NOT NULL, s TEXT NOT NULL, o TEXT)")
        .execute(store.pool())
        .await
        .expect("create");
    let row = |k: &str, n: i64, s: &str| vec![k.into(), n.into(), s.into(), Value::Null];

    let mut w = Writes::begin(store.pool()).await.expect("begin");
    w.insert(&T, row("a", 1, "x")).expect("insert");
    w.insert(&T, row("b", 2, "y")).expect("insert");
    // Changes to a row inserted in the same batch.
    w.update(&T, "a", vec![("n", Change::Set(10.into()))])
        .expect("update");
    w.update(&T, "a", vec![("s", Change::Append("p".into()))])
        .expect("append");
    // A change to a row that is not there yet changes nothing, not the row inserted later.
    w.update(&T, "z", vec![("n", Change::Set(5.into()))])
        .expect("update");
    w.insert(&T, row("z", 3, "w")).expect("insert");
    assert_eq!(
        w.int(&T, "a", "n").await.expect("read"),
        Some(10),
        "a row of the batch"
    );
    assert_eq!(w.int(&T, "y", "n").await.expect("read"), None, "no row");
    w.commit().await.expect("commit");
    assert_eq!(
        rows_of(store.pool()).await,
        vec![
            ("a".into(), 10, "x p".into(), None),
            ("b".into(), 2, "y".into(), None),
            ("z".into(), 3, "w".into(), None),
        ]
    );

    let mut w = Writes::begin(store.pool()).await.expect("begin");
    // Changes to rows from before the batch, merged per row and column.
    w.update(&T, "b", vec![("s", Change::Append("q".into()))])
        .expect("append");
    w.update(
        &T,
        "b",
        vec![
            ("s", Change::Append("r".into())),
            ("n", Change::Set(20.into())),
        ],
    )
    .expect("append");
    w.update(&T, "z", vec![("s", Change::Set("v".into()))])
        .expect("set");
    w.update(&T, "z", vec![("s", Change::Append("u".into()))])
        .expect("append");
    w.update(&T, "a", vec![("o", Change::Set("set".into()))])
        .expect("set");
    w.update(&T, "c", vec![("n", Change::Set(7.into()))])
        .expect("no row");
    // A statement of the projector's own sees the batch so far.
    w.update(&T, "a", vec![("n", Change::Set(30.into()))])
        .expect("update");
    // Reads see it too, without sending it: a stored row changed in the batch, one not
    // changed, and a change to a row that is not there.
    for (key, n) in [
        ("a", Some(30)),
        ("b", Some(20)),
        ("z", Some(3)),
        ("c", None),
    ] {
        assert_eq!(w.int(&T, key, "n").await.expect("read"), n, "row {key}");
    }
    let n: i64 = sqlx::query_scalar("SELECT n FROM wt WHERE k = 'a'")
        .fetch_one(w.conn().await.expect("conn"))
        .await
        .expect("read inside the batch");
    assert_eq!(n, 30);
    w.update(&T, "a", vec![("o", Change::Set(Value::Null))])
        .expect("null");
    w.commit().await.expect("commit");
    assert_eq!(
        rows_of(store.pool()).await,
        vec![
            ("a".into(), 30, "x p".into(), None),
            ("b".into(), 20, "y q r".into(), None),
            ("z".into(), 3, "v u".into(), None),
        ]
    );

    // A column the table lacks, the key, or a row of the wrong width is refused at once.
    let mut w = Writes::begin(store.pool()).await.expect("begin");
    assert!(
        w.update(&T, "a", vec![("nope", Change::Set(1.into()))])
            .is_err()
    );
    assert!(
        w.update(&T, "a", vec![("k", Change::Set("b".into()))])
            .is_err()
    );
    assert!(w.insert(&T, vec!["q".into()]).is_err());
    // A key inserted twice fails the batch, which then writes nothing.
    w.insert(&T, row("q", 1, "")).expect("insert");
    w.insert(&T, row("a", 1, "")).expect("buffered");
    assert!(w.commit().await.is_err(), "a duplicate key fails the batch");
    assert_eq!(
        rows_of(store.pool()).await.len(),
        3,
        "nothing of the failed batch is written"
    );
}
