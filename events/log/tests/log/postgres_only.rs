//! What only PostgreSQL can show: a database that goes away and comes back.

use crate::world::{World, request, stream};
use allweather_log::{AppendError, ExpectedVersion, Log, LogError, LogOptions};
use allweather_test_support::{TestDatabase, eventually};
use std::time::Duration;

#[tokio::test]
async fn an_unreachable_database_fails_to_open_with_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let err = Log::open(LogOptions::new("postgres://postgres@127.0.0.1:1/none"))
        .await
        .expect_err("must fail");
    assert!(matches!(err, LogError::Unavailable(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the log's database is unavailable"),
        "{err}"
    );
    let err = Log::open(LogOptions::new("mysql://admin:s3cret@db/x"))
        .await
        .expect_err("must fail");
    assert!(matches!(err, LogError::UnsupportedUrl(_)), "{err:?}");
    assert!(
        !err.to_string().contains("s3cret"),
        "a password must not be echoed: {err}"
    );
    let err = Log::open(LogOptions::new("postgres://admin:s3cret@db:notaport/x"))
        .await
        .expect_err("must fail");
    assert!(matches!(err, LogError::BadUrl(_)), "{err:?}");
    assert!(
        !err.to_string().contains("s3cret"),
        "a password must not be echoed: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_fail_cleanly_while_the_database_is_away_and_resume_after() {
    let world = World::Postgres(TestDatabase::create().await);
    let World::Postgres(db) = &world else {
        unreachable!()
    };
    let mut options = LogOptions::new(world.url());
    options.acquire_timeout = Duration::from_secs(1);
    let log = Log::open(options).await.expect("open");
    log.append(request(&stream("before"), ExpectedVersion::NoStream, 1))
        .await
        .expect("append");

    db.cut_off().await;
    let err = log
        .append(request(&stream("during"), ExpectedVersion::Any, 1))
        .await
        .expect_err("must fail");
    assert!(matches!(err, AppendError::Unavailable(_)), "{err:?}");

    db.let_back().await;
    let outcome = eventually("appends to resume", Duration::from_secs(30), || async {
        log.append(request(&stream("after"), ExpectedVersion::Any, 1))
            .await
            .ok()
    })
    .await;
    assert_eq!(
        outcome.position(),
        2,
        "nothing of the failed append was written"
    );
    assert_eq!(log.verify(|_| {}).await.expect("verify").broken, None);
}
