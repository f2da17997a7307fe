//! The dashboard in a real browser (`allweather_test_support::browser`: headless
//! Chromium over WebDriver) opens `/` on a service of its own, a command goes in over
//! HTTP, and the page changes without a reload. Screenshots (desktop and phone width) are
//! kept in `target/artefacts/`.

use allweather_domain::command::PublishWish;
use allweather_domain::values::{Category, WishOrigin};
use allweather_events::Timestamp;
use allweather_test_support::TestApp;
use allweather_test_support::browser::{Browser, DESKTOP, PHONE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_new_wish_live_in_chinese_and_english_and_fits_a_phone() {
    let app = TestApp::sqlite().await;
    app.adopt_rules(|_| {}).await;
    let browser = Browser::open(DESKTOP).await;
    // The token rides in the fragment (never sent to the server); the page keeps it.
    browser
        .goto(&format!("{}/#token={}", app.base, app.admin()))
        .await;
    assert!(!browser.text("ranking").await.is_empty());
    let live = browser
        .wait_text("live", "the page to follow the event stream", |t| {
            t.starts_with("实时")
        })
        .await;
    assert!(live.starts_with("实时 · 位置 "), "{live}");
    browser
        .wait_text("wish-count-open", "the wish board to load", |t| t == "0")
        .await;
    assert_eq!(
        browser
            .run("return document.getElementById('year').value")
            .await,
        "2026",
        "the year of the county's date"
    );

    let publish = PublishWish {
        wish_id: None,
        origin: WishOrigin::MicroWish,
        title: "冬季棉被一床".into(),
        beneficiary: "赵奶奶，城东社区3号".into(),
        beneficiary_contact: None,
        beneficiary_id: None,
        category: Category::Festival,
        deadline: Timestamp::parse("2026-07-01T00:00:00+08:00").expect("a deadline"),
        volunteers: None,
    };
    let published = app.submit(&app.centre(), publish).await;
    let position = published["position"].as_u64().expect("position");
    browser
        .wait_text(
            "wishes-open",
            "the new wish to appear without a reload",
            |t| t.contains("冬季棉被一床"),
        )
        .await;
    assert_eq!(browser.text("wish-count-open").await, "1");
    browser
        .wait_text("live", "the live position to follow", |t| {
            t == format!("实时 · 位置 {position}")
        })
        .await;
    let page = browser.run("return document.body.innerText").await;
    assert!(
        !page.as_str().unwrap_or_default().contains("赵奶奶"),
        "the beneficiary is never shown"
    );
    let shot = browser.screenshot("dashboard").await;
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));

    // English by the switch.
    browser
        .run("document.getElementById('lang').click(); return null;")
        .await;
    browser
        .wait_text("wish-count-open", "the board in English", |t| t == "1")
        .await;
    assert_eq!(
        browser
            .run("return document.querySelector('h1').textContent")
            .await,
        "All-weather member programme · live"
    );
    assert_eq!(
        browser
            .run("return document.querySelector('#wishes h2 span').textContent")
            .await,
        "Micro-wishes"
    );
    assert_eq!(
        browser.text("live").await,
        format!("live · position {position}"),
        "still live, in English"
    );

    // A phone's width: nothing runs off the side.
    browser.resize(PHONE).await;
    assert!(browser.fits().await, "the page fits a 360 px wide screen");
    browser.screenshot("dashboard-phone").await;
    browser.close().await;
    app.stop().await;
}
