//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by its
//! `chromedriver` over the WebDriver protocol) opens `/` on a service of its own, a
//! command goes in over HTTP, and the page changes without a reload. Screenshots (desktop
//! and phone width) are kept in `target/artefacts/`.

use allweather_domain::command::PublishWish;
use allweather_domain::values::{Category, WishOrigin};
use allweather_events::Timestamp;
use allweather_test_support::{TestApp, eventually, free_port};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `chromedriver` of this test's own, on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is installed (deploy/test.sh installs Debian's chromium-driver)");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _profile: tempfile::tempdir().expect("profile dir"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: the few commands this test needs.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &Driver) -> Browser {
        let http = reqwest::Client::new();
        let profile = driver._profile.path().display().to_string();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,1000", format!("--user-data-dir={profile}")],
            },
        }}});
        let url = format!("{}/session", driver.url);
        let answer = eventually(
            "chromedriver to start a session",
            Duration::from_secs(60),
            || async {
                let r = http.post(&url).json(&capabilities).send().await.ok()?;
                let body: Value = r.json().await.ok()?;
                body["value"]["sessionId"]
                    .as_str()
                    .map(|s| (s.to_owned(), body.clone()))
            },
        )
        .await;
        Browser {
            http,
            session: format!("{}/session/{}", driver.url, answer.0),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let r = request.send().await.expect("a WebDriver request");
        let status = r.status();
        let body: Value = r.json().await.expect("a WebDriver answer");
        assert!(status.is_success(), "WebDriver {path}: {body}");
        body["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Runs `script` (a function body) in the page; its return value.
    async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn text(&self, id: &str) -> String {
        let script =
            format!("const e = document.getElementById({id:?}); return e ? e.textContent : null;");
        self.run(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until element `id`'s text satisfies `ok`; the text.
    async fn wait_text(&self, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        eventually(what, Duration::from_secs(30), || async {
            let text = self.text(id).await;
            ok(&text).then_some(text)
        })
        .await
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Saves a screenshot as `target/artefacts/NAME.png`; its path.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/artefacts");
        std::fs::create_dir_all(&dir).expect("artefacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_new_wish_live_in_chinese_and_english_and_fits_a_phone() {
    let app = TestApp::sqlite().await;
    app.adopt_rules(|_| {}).await;
    let driver = Driver::start();
    let browser = Browser::open(&driver).await;
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
    browser.resize(390, 844).await;
    let fits = browser
        .run("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, true, "the page fits a 390 px wide screen");
    browser.screenshot("dashboard-phone").await;
    browser.close().await;
    app.stop().await;
}
