//! `TestApp`: the application on a free port over a database of its own.

use allweather_api::{App, Settings};
use allweather_log::{Log, LogOptions};
use allweather_test_support::{TestDatabase, TestSqlite};
use serde_json::Value;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub log: Log,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub db: Option<TestDatabase>,
    _sqlite: Option<TestSqlite>,
}

impl TestApp {
    pub async fn postgres() -> TestApp {
        let db = TestDatabase::create().await;
        let mut app = Self::start(db.url().to_owned()).await;
        app.db = Some(db);
        app
    }

    pub async fn sqlite() -> TestApp {
        let file = TestSqlite::create();
        let mut app = Self::start(file.url()).await;
        app._sqlite = Some(file);
        app
    }

    async fn start(url: String) -> TestApp {
        let settings = Settings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            log: LogOptions::new(url),
        };
        let app = App::build(settings).await.expect("build the app");
        let base = format!("http://{}", app.local_addr());
        let log = app.log().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            log,
            stop: Some(stop),
            served: Some(served),
            db: None,
            _sqlite: None,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a raw body to a command, with an optional idempotency key.
    pub async fn command(
        &self,
        name: &str,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}/api/v1/commands/{name}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        let r = req.send().await.expect("POST");
        Response {
            status: r.status().as_u16(),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            retry_after: r.headers().get("retry-after").is_some(),
            body: r.json().await.unwrap_or(Value::Null),
        }
    }

    pub async fn head(&self) -> (u64, String) {
        let head = self.log.head().await.expect("head");
        (head.position, head.hash.to_string())
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("join").expect("serve");
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub retry_after: bool,
    pub body: Value,
}
