//! What only PostgreSQL can show: the database going away under a running service.

use allweather_test_support::{TestApp, eventually};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_get_503_with_retry_after_while_the_database_is_away_then_resume() {
    let app = TestApp::postgres().await;
    assert_eq!(
        app.command(
            Some(&app.admin()),
            "RegisterBranch",
            r#"{"name":"before","kind":"unit"}"#,
            None
        )
        .await
        .status,
        200
    );
    let db = app.db.as_ref().expect("a PostgreSQL app");
    db.cut_off().await;

    let r = app
        .command(
            Some(&app.admin()),
            "RegisterBranch",
            r#"{"name":"during","kind":"unit"}"#,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("unavailable")),
        "{:?}",
        r.body
    );
    assert!(r.retry_after, "a 503 says when to retry");
    assert_eq!(app.get("/healthz").await.0, 503);

    db.let_back().await;
    let resumed = eventually("commands to resume", Duration::from_secs(30), || async {
        let r = app
            .command(
                Some(&app.admin()),
                "RegisterBranch",
                r#"{"name":"after","kind":"unit"}"#,
                None,
            )
            .await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(
        resumed.body["position"], 2,
        "the refused command left nothing behind"
    );
    app.stop().await;
}
