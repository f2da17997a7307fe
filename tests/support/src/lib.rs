//! # allweather-test-support
//!
//! Each integration test owns its world: a PostgreSQL database of its own (created, then
//! dropped when the test ends), a SQLite file in its own temporary directory, and a
//! `nats-server` of its own (a free port, a temporary store, killed when dropped). Tests
//! therefore run in parallel and never see each other's data.
//!
//! PostgreSQL is reached through `ALLWEATHER_TEST_PG_URL`, the URL of a server on which
//! the tests may create databases; `deploy/test.sh` starts a private one and sets it.
//! `nats-server` must be on `PATH` (`deploy/test.sh` installs it when missing).
//!
//! ## Layout
//! - [`TestDatabase`]: a fresh PostgreSQL database.
//! - [`TestSqlite`]: a fresh SQLite file.
//! - [`NatsServer`]: a private nats-server with JetStream.
//! - [`NatsCluster`]: three (or more) private nats-servers clustered on loopback.
//! - [`eventually`]: wait for a condition with a deadline, never a bare sleep.
//! - [`TestApp`]: the service on a free port over a database of its own, with a clock
//!   of its own and typed helpers for tokens and commands.
//! - [`on_both_backends!`]: one suite, instantiated for PostgreSQL and for SQLite.
#![deny(missing_docs)]

mod app;
pub mod browser;

pub use app::{
    COUNTY_DAY, NatsCommands, Response, TOKEN_SECRET, TestApp, TestClock, id_of, loopback,
};

/// Instantiates every test of a suite on both backends: for each `name`, a test
/// `postgres::name` calling `suite::name(pg_fixture)` and `sqlite::name` calling
/// `suite::name(sqlite_fixture)`.
#[macro_export]
macro_rules! on_both_backends {
    ($suite:path; postgres = $pg:expr; sqlite = $lite:expr; $($name:ident),* $(,)?) => {
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $suite as suite;
                    suite::$name($pg).await
                }
            )*
        }
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    use $suite as suite;
                    suite::$name($lite).await
                }
            )*
        }
    };
}

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr as _;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The environment variable naming the PostgreSQL server tests create databases on.
pub const PG_URL_VAR: &str = "ALLWEATHER_TEST_PG_URL";

/// The URL of the PostgreSQL server for tests.
///
/// # Panics
/// When `ALLWEATHER_TEST_PG_URL` is not set: run the tests through `deploy/test.sh`,
/// which provides the server.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
        panic!("{PG_URL_VAR} is not set: run the tests with deploy/test.sh, which starts a private PostgreSQL")
    })
}

/// A PostgreSQL database that exists for one test and is dropped after it.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin_url: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database with a unique name on the test PostgreSQL.
    pub async fn create() -> TestDatabase {
        TestDatabase::create_on(&pg_admin_url())
            .await
            .unwrap_or_else(|e| panic!("cannot create a database on {PG_URL_VAR}: {e:#}"))
    }

    /// Creates an empty database with a unique name on the server at `admin_url` (a
    /// database there the caller may create databases from); dropped with the value.
    pub async fn create_on(admin_url: &str) -> anyhow::Result<TestDatabase> {
        use anyhow::Context as _;
        let name = format!("aw_test_{}", uuid::Uuid::now_v7().simple());
        let options = PgConnectOptions::from_str(admin_url).context("not a PostgreSQL URL")?;
        let mut admin = sqlx::PgConnection::connect_with(&options)
            .await
            .context("connect")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("create a database")?;
        let url = options.database(&name).to_url_lossy().to_string();
        Ok(TestDatabase {
            name,
            admin_url: admin_url.to_owned(),
            url,
        })
    }

    /// The URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Cuts the database off, as an outage would: refuses new connections and ends every
    /// open session.
    pub async fn cut_off(&self) {
        self.admin_exec(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ))
        .await;
        // Termination is a signal the backends act on when they next can, and a session
        // that was authenticating while the database closed can still appear: terminate
        // until none is left.
        let mut admin = self.admin().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&self.name)
            .fetch_one(&mut admin)
            .await
            .expect("terminate the database's sessions");
            if left == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sessions of {} would not end",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets connections to the database again, after [`TestDatabase::cut_off`].
    pub async fn let_back(&self) {
        self.admin_exec(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }

    async fn admin_exec(&self, sql: String) {
        let mut admin = self.admin().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("run an admin statement");
    }

    /// A connection to the server's maintenance database, for what a test does to the
    /// server itself (terminating sessions, making the database read-only).
    pub async fn admin(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the test PostgreSQL")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
        // a runtime of its own drops the database, forcing out any connection left open.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

/// A SQLite file in a temporary directory of its own, removed after the test.
#[derive(Debug)]
pub struct TestSqlite {
    dir: TempDir,
}

impl TestSqlite {
    /// A new, not yet created, SQLite file.
    pub fn create() -> TestSqlite {
        TestSqlite::try_create().expect("create a temporary directory")
    }

    /// A new, not yet created, SQLite file; an error when no temporary directory can be
    /// made.
    pub fn try_create() -> std::io::Result<TestSqlite> {
        Ok(TestSqlite {
            dir: tempfile::tempdir()?,
        })
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("log.db")
    }

    /// The `sqlite://` URL of the file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }
}

/// A `nats-server` with JetStream on a free loopback port and a temporary store; killed
/// and cleaned when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    store: TempDir,
    port: u16,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("create a temporary store");
        let (child, port) = spawn_nats(store.path(), None);
        NatsServer {
            child: Some(child),
            store,
            port,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The directory JetStream stores its data in.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server (its store stays, as after a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and loses its store, as when its disk is lost: started again,
    /// it knows no stream and no consumer.
    pub fn kill_and_lose_store(&mut self) {
        self.kill();
        for entry in std::fs::read_dir(self.store.path()).expect("the store") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("remove");
            } else {
                std::fs::remove_file(&path).expect("remove");
            }
        }
    }

    /// Starts the server again on the same port with the same store.
    pub fn restart(&mut self) {
        self.kill();
        let (child, _) = spawn_nats(self.store.path(), Some(self.port));
        self.child = Some(child);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_nats(store: &Path, port: Option<u16>) -> (Child, u16) {
    let ports_dir = store.join("ports");
    let _ = std::fs::remove_dir_all(&ports_dir);
    std::fs::create_dir_all(&ports_dir).expect("create the ports directory");
    let mut child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p"])
        .arg(port.map_or_else(|| "-1".to_string(), |p| p.to_string()))
        .arg("-js")
        .arg("-sd")
        .arg(store.join("jetstream"))
        .arg("--ports_file_dir")
        .arg(&ports_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server (is it installed? deploy/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(port) = read_ports_file(&ports_dir)
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return (child, port);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("nats-server exited at start: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "nats-server did not accept connections within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_ports_file(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let ports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
    let url = ports["nats"][0].as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

/// A cluster of `nats-server`s with JetStream on loopback, each node with its own
/// temporary store; every node is killed and cleaned when dropped. Nodes can be killed
/// and restarted one at a time.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<ClusterNode>,
    dir: TempDir,
}

#[derive(Debug)]
struct ClusterNode {
    child: Option<Child>,
    client_port: u16,
    config: PathBuf,
}

impl NatsCluster {
    /// Starts `size` nodes clustered with each other and waits until each accepts
    /// clients (JetStream's meta group may still be electing a leader: callers retry).
    pub fn start(size: usize) -> NatsCluster {
        // The ports are chosen before the servers start, so another process can take one
        // in between: then a node exits at once, and the cluster is tried again on new ports.
        let mut last_failure = String::new();
        for _ in 0..5 {
            let mut cluster = Self::configure(size);
            match (0..size).try_for_each(|i| cluster.try_start_node(i)) {
                Ok(()) => return cluster,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("the NATS cluster did not start: {last_failure}");
    }

    fn configure(size: usize) -> NatsCluster {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let client_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let routes: Vec<String> = cluster_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            let config = dir.path().join(format!("n{i}.conf"));
            let store = dir.path().join(format!("n{i}"));
            std::fs::write(
                &config,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\nlog_file: \"{}\"\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: aw_test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    client_ports[i],
                    dir.path().join(format!("n{i}.log")).display(),
                    store.display(),
                    cluster_ports[i],
                    routes.join(", ")
                ),
            )
            .expect("write the node's configuration");
            nodes.push(ClusterNode {
                child: None,
                client_port: client_ports[i],
                config,
            });
        }
        NatsCluster { nodes, dir }
    }

    /// The client URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    /// Kills node `i` (its store stays, as after a crash).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again with its store.
    ///
    /// # Panics
    /// When the node does not accept clients within 20 s (its log's end is shown).
    pub fn start_node(&mut self, i: usize) {
        if let Err(failure) = self.try_start_node(i) {
            panic!("{failure}");
        }
    }

    fn try_start_node(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        let node = &mut self.nodes[i];
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server (is it installed? deploy/test.sh installs it)");
        node.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", node.client_port)).is_err() {
            let exited = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(self.dir.path().join(format!("n{i}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                return Err(format!(
                    "cluster node {i} did not accept clients ({exited:?}); its log ends:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The directory holding the nodes' configurations and stores.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A loopback port that was free a moment ago (for ports that must be known before a
/// server starts, such as cluster routes).
/// A TCP port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free loopback port")
}

/// Polls `check` until it returns `Some`, or panics naming `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_test_database_is_created_empty_and_dropped_after() {
        let db = TestDatabase::create().await;
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let tables: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(tables, 0);
        let name = db.name().to_owned();
        let mut admin = db.admin().await;
        drop(conn);
        drop(db);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0, "the test database must be dropped");
    }

    #[tokio::test]
    async fn each_nats_server_is_private_has_jetstream_and_dies_on_drop() {
        let a = NatsServer::start();
        let b = NatsServer::start();
        assert_ne!(a.url(), b.url());
        let client = async_nats::connect(a.url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: "T".into(),
                subjects: vec!["t.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        js.publish("t.x", "hello".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(stream.cached_info().config.name, "T");
        let port = a.port;
        drop(a);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server must be gone after drop"
        );
    }
}
