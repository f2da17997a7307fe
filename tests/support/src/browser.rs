//! A real headless Chromium for a test, driven over WebDriver by fantoccini: Debian's
//! `chromium` and `chromedriver` (`deploy/test.sh` installs them), a driver and a profile
//! of the test's own. Screenshots land in `target/artefacts/`; [`Browser::axe`] runs the
//! pinned axe-core (`assets/axe.min.js`, MPL-2.0) in the page.

use crate::{eventually, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The axe-core script, pinned (4.11.0).
const AXE: &str = include_str!("../assets/axe.min.js");

/// A phone's width, and a desktop's.
pub const PHONE: (u32, u32) = (360, 780);
/// A desktop's window.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// A `chromedriver` of the test's own, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window.
pub struct Browser {
    client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

impl Browser {
    /// A new headless browser, its window `size` (width, height) in CSS pixels.
    pub async fn open(size: (u32, u32)) -> Browser {
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
        let driver = Driver { child, port };
        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--hide-scrollbars",
                         format!("--window-size={},{}", size.0, size.1),
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = eventually(
            "chromedriver to start a session",
            Duration::from_secs(60),
            || {
                let (url, capabilities) = (url.clone(), capabilities.clone());
                async move {
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                        .capabilities(capabilities)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await;
        let browser = Browser {
            client,
            _driver: driver,
            _profile: profile,
        };
        browser.resize(size).await;
        browser
    }

    /// The WebDriver client, for what this wrapper does not say.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("run a script in the page")
    }

    /// Element `id`'s text, or "" when there is none.
    pub async fn text(&self, id: &str) -> String {
        let script =
            format!("const e = document.getElementById({id:?}); return e ? e.textContent : '';");
        self.run(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until element `id`'s text satisfies `ok`; the text.
    pub async fn wait_text(&self, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        eventually(what, Duration::from_secs(30), || async {
            let text = self.text(id).await;
            ok(&text).then_some(text)
        })
        .await
    }

    /// Waits until `script` (a function body) returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        eventually(what, Duration::from_secs(30), || async {
            (self.run(script).await == json!(true)).then_some(())
        })
        .await
    }

    /// Types `text` into the field named `name` (cleared first).
    pub async fn fill(&self, name: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!("[name={name:?}]")))
            .await
            .unwrap_or_else(|e| panic!("no field {name}: {e}"));
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type into the field");
    }

    /// Clicks the element `css` selects, and waits for the page it leads to (a form's
    /// button: the next page).
    pub async fn click(&self, css: &str) {
        let marker = "window.__aw_before = true; return null;";
        self.run(marker).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches {css}: {e}"))
            .click()
            .await
            .expect("click");
        self.wait_until(
            "the next page to load",
            "return window.__aw_before !== true && document.readyState === 'complete';",
        )
        .await;
    }

    /// Sets the window's size.
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
    }

    /// Whether the page fits the window's width (nothing runs off the side).
    pub async fn fits(&self) -> bool {
        self.run("return document.documentElement.scrollWidth <= window.innerWidth")
            .await
            == json!(true)
    }

    /// Saves a screenshot as `target/artefacts/NAME.png`; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/artefacts");
        std::fs::create_dir_all(&dir).expect("artefacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// The serious and critical accessibility violations axe-core finds in the page, each
    /// as `rule: where`.
    pub async fn axe(&self) -> Vec<String> {
        // Loaded by WebDriver, not as a page script: the page's policy allows none.
        self.client
            .execute(
                "if (!window.axe) { (0, eval)(arguments[0]); } return null;",
                vec![json!(AXE)],
            )
            .await
            .expect("load axe-core");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        serde_json::from_value(found).unwrap_or_default()
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
