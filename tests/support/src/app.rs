//! `TestApp`: the service on a free port over a database of its own, with a clock of its
//! own (set to a working day of the county, moved only by the test), and typed helpers.

use crate::{NatsServer, TestDatabase, TestSqlite};
use allweather_api::{App, CommandOptions, Limits, Settings, TokenKey};
use allweather_command::Claims;
use allweather_log::{Log, LogOptions};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// The instant a test county starts at: 10:00 on 15 June 2026 in the county (UTC+8).
pub const COUNTY_DAY: &str = "2026-06-15T02:00:00Z";

/// The secret test tokens are signed with (HS256).
pub const TOKEN_SECRET: &[u8] = b"allweather test secret, 32+ bytes long";

/// A clock the test moves; the service decides with it (its effect on storage is real).
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> TestClock {
        let start = chrono::DateTime::parse_from_rfc3339(COUNTY_DAY).expect("COUNTY_DAY");
        TestClock(Arc::new(AtomicI64::new(start.timestamp_micros())))
    }

    /// The clock's time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst)).expect("a time")
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).expect("a sane duration");
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

/// The id of the aggregate a command's reply names (the new branch, member, wish…).
///
/// # Panics
/// When the reply names none: the command it answers made nothing.
pub fn id_of(reply: &Value) -> Uuid {
    reply["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the reply names no id: {reply}"))
}

/// The application, started on a free port.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The app's log.
    pub log: Log,
    /// The app's clock.
    pub clock: TestClock,
    /// The key its tokens are signed with.
    pub tokens: TokenKey,
    /// The database, when on PostgreSQL (dropped with the app).
    pub db: Option<TestDatabase>,
    url: String,
    /// Cancels the app's stop when dropped: a test that ends without `stop` stops it too.
    stop: Option<tokio_util::sync::DropGuard>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _sqlite: Option<TestSqlite>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Commands over NATS for a [`TestApp`]: see [`TestApp::commands_over_nats`].
#[derive(Debug)]
pub struct NatsCommands {
    /// A client of its nats-server.
    pub client: async_nats::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), async_nats::SubscribeError>>>,
    _server: NatsServer,
}

impl NatsCommands {
    /// Sends `body` to command `name` with an optional token and `Nats-Msg-Id`; the
    /// reply's `Status` header (none on success) and JSON body.
    pub async fn request(
        &self,
        token: Option<&str>,
        name: &str,
        body: impl Into<bytes::Bytes>,
        key: Option<&str>,
    ) -> (Option<String>, Value) {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(token) = token {
            headers.insert("Authorization", format!("Bearer {token}").as_str());
        }
        if let Some(key) = key {
            headers.insert(async_nats::header::NATS_MESSAGE_ID, key);
        }
        let reply = self
            .client
            .request_with_headers(format!("aw.cmd.{name}"), headers, body.into())
            .await
            .expect("a reply over NATS");
        let status = reply
            .headers
            .as_ref()
            .and_then(|h| h.get("Status"))
            .map(|v| v.as_str().to_owned());
        (
            status,
            serde_json::from_slice(&reply.payload).unwrap_or(Value::Null),
        )
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("serve over NATS");
        }
    }
}

/// A command's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// Whether `Retry-After` was set.
    pub retry_after: bool,
    /// The JSON body.
    pub body: Value,
}

/// The service's limits for tests, whose clients (a storm of 500 members, the anonymous
/// dashboard) all come from the loopback address: its share is the whole.
pub fn loopback() -> Limits {
    let limits = Limits::default();
    Limits {
        connections_per_address: limits.connections,
        anonymous: None,
        ..limits
    }
}

impl TestApp {
    /// The app over a fresh PostgreSQL database.
    pub async fn postgres() -> TestApp {
        let db = TestDatabase::create().await;
        let mut app = Self::start(db.url().to_owned(), TestClock::new(), loopback()).await;
        app.db = Some(db);
        app
    }

    /// The app over a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_limited(loopback()).await
    }

    /// The app over a fresh SQLite file, within `limits` (timeouts, connection caps).
    pub async fn sqlite_limited(limits: Limits) -> TestApp {
        let file = TestSqlite::create();
        let mut app = Self::start(file.url(), TestClock::new(), limits).await;
        app._sqlite = Some(file);
        app
    }

    /// A second instance of the service on the same database, sharing the clock (the
    /// first keeps the database alive).
    pub async fn another_instance(&self) -> TestApp {
        Self::start(self.url.clone(), self.clock.clone(), loopback()).await
    }

    async fn start(url: String, clock: TestClock, limits: Limits) -> TestApp {
        let tokens = TokenKey::from_secret(TOKEN_SECRET).expect("secret");
        let ticking = clock.clone();
        // Read models beside the log: in its PostgreSQL database, or a SQLite file of
        // their own next to the log's.
        let read_store = match url.strip_suffix(".db") {
            Some(stem) if url.starts_with("sqlite:") => format!("{stem}-read.db"),
            _ => url.clone(),
        };
        let settings = Settings {
            limits,
            run_projectors: true,
            read_store,
            listen: "127.0.0.1:0".parse().expect("addr"),
            log: LogOptions::new(url.clone()),
            tokens: tokens.clone(),
            commands: CommandOptions {
                clock: Arc::new(move || ticking.now()),
                expiry_check: Duration::from_millis(100),
                // Tests share token subjects across many commands; the rate has its own test.
                rate_limit: None,
                ..CommandOptions::default()
            },
        };
        let app = App::build(settings).await.expect("build the app");
        let base = format!("http://{}", app.local_addr());
        let log = app.log().clone();
        let stop = tokio_util::sync::CancellationToken::new();
        let served = tokio::spawn(app.run_until_stopped(stop.clone()));
        TestApp {
            base,
            client: reqwest::Client::new(),
            log,
            clock,
            tokens,
            db: None,
            url,
            stop: Some(stop.drop_guard()),
            served: Some(served),
            _sqlite: None,
        }
    }

    /// A token for `role`, valid for an hour.
    pub fn token(&self, role: &str, member: Option<Uuid>, branch: Option<Uuid>) -> String {
        // Issued now by the real clock (a token issued in the future is refused), valid
        // for an hour of the service's clock, which tests move forward.
        let issued = chrono::Utc::now().timestamp() as u64;
        let now = (self.clock.now().timestamp() as u64).max(issued);
        let sub = match (member, branch) {
            (Some(m), _) => m.to_string(),
            (None, Some(b)) => format!("{role}-{b}"),
            (None, None) => format!("{role}@county"),
        };
        self.tokens
            .issue(&Claims {
                sub,
                role: role.into(),
                member,
                branch,
                iat: issued,
                exp: now + 3600,
                jti: Some(Uuid::now_v7().to_string()),
            })
            .expect("token")
    }

    /// A committee administrator's token.
    pub fn admin(&self) -> String {
        self.token("committee_admin", None, None)
    }

    /// The token of `member`, the appointed secretary of `branch`.
    pub fn secretary(&self, branch: Uuid, member: Uuid) -> String {
        self.token("secretary", Some(member), Some(branch))
    }

    /// The token of member `id`.
    pub fn member(&self, id: Uuid) -> String {
        self.token("member", Some(id), None)
    }

    /// A service centre's token.
    pub fn centre(&self) -> String {
        self.token("service_centre", None, None)
    }

    /// GETs `path`.
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

    /// GETs `/metrics`: the Prometheus text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text")
    }

    /// GETs `path` with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a raw body to a command, with an optional token and idempotency key.
    pub async fn command(
        &self,
        token: Option<&str>,
        name: &str,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}/api/v1/commands/{name}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
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

    /// Runs a command that must succeed; its answer.
    #[track_caller]
    pub fn ok<'a>(
        &'a self,
        token: &'a str,
        name: &'a str,
        body: Value,
    ) -> impl std::future::Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let r = self
                .command(Some(token), name, body.to_string(), None)
                .await;
            assert_eq!(r.status, 200, "{name} at {caller} was refused: {}", r.body);
            r.body
        }
    }

    /// Sends a typed command over HTTP (its body as the API takes it), which must
    /// succeed; its answer.
    #[track_caller]
    pub fn submit<'a>(
        &'a self,
        token: &'a str,
        command: impl Into<allweather_domain::Command>,
    ) -> impl std::future::Future<Output = Value> + 'a {
        let command = command.into();
        let caller = std::panic::Location::caller();
        async move {
            let name = command.name();
            let r = self
                .command(Some(token), name, command.body().to_string(), None)
                .await;
            assert_eq!(r.status, 200, "{name} at {caller} was refused: {}", r.body);
            r.body
        }
    }

    /// Adopts `rules/2026.toml`, with `changes` applied to the document.
    pub async fn adopt_rules(&self, changes: impl FnOnce(&mut Value)) {
        self.adopt_rules_for(2026, changes).await;
    }

    /// Adopts `rules/2026.toml` as the rules of `year`, with `changes` applied.
    pub async fn adopt_rules_for(&self, year: i32, changes: impl FnOnce(&mut Value)) {
        let text = include_str!("../../../rules/2026.toml");
        let mut rules: Value = toml::from_str(text).expect("rules/2026.toml");
        rules["year"] = serde_json::json!(year);
        changes(&mut rules);
        let adopt = allweather_domain::command::AdoptRules {
            year: allweather_domain::values::Year::new(i64::from(year)).expect("a programme year"),
            rules,
        };
        self.submit(&self.admin(), adopt).await;
    }

    /// The log's head: position and hash.
    pub async fn head(&self) -> (u64, String) {
        let head = self.log.head().await.expect("head");
        (head.position, head.hash.to_string())
    }

    /// How many events of `event_type` the log holds.
    pub async fn count(&self, event_type: &str) -> usize {
        let mut after = 0;
        let mut n = 0;
        loop {
            let page = self.log.read_all(after, 10_000).await.expect("read");
            let Some(last) = page.last() else { return n };
            after = last.position;
            n += page.iter().filter(|e| e.event_type == event_type).count();
        }
    }

    /// The app's commands served over NATS request/reply as well (`aw.cmd.NAME`), by a
    /// second command service on the same log and clock, through a nats-server of its
    /// own; answers once it is subscribed.
    pub async fn commands_over_nats(&self) -> NatsCommands {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url())
            .await
            .expect("connect to nats");
        let ticking = self.clock.clone();
        let options = CommandOptions {
            clock: Arc::new(move || ticking.now()),
            rate_limit: None,
            ..CommandOptions::default()
        };
        let service = allweather_command::CommandService::new(self.log.clone(), options)
            .expect("a command service");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(allweather_command::nats::serve_commands(
            service,
            self.tokens.clone(),
            client.clone(),
            "aw",
            async {
                let _ = stopped.await;
            },
        ));
        let nats = NatsCommands {
            client,
            stop: Some(stop),
            task: Some(task),
            _server: server,
        };
        // An unknown command changes nothing and is answered once the service listens.
        crate::eventually(
            "the command service to answer over NATS",
            Duration::from_secs(30),
            || async {
                let reply = tokio::time::timeout(
                    Duration::from_secs(2),
                    nats.client.request("aw.cmd.Nothing", "{}".into()),
                )
                .await;
                matches!(reply, Ok(Ok(_))).then_some(())
            },
        )
        .await;
        nats
    }

    /// Stops the app: in-flight requests finish, the appender commits what it holds.
    pub async fn stop(mut self) {
        drop(self.stop.take());
        if let Some(served) = self.served.take() {
            served.await.expect("join").expect("serve");
        }
    }
}
