//! What the sections share: scratch databases, repetitions, medians and quantiles.

use allweather_test_support::{TestDatabase, TestSqlite};
use anyhow::Context as _;
use std::time::Duration;

/// A rate measured `runs` times: the median, the slowest and the fastest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// The `q`-quantile (nearest rank) of `sorted`, in ms.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// p50, p99 and the maximum of `latencies`, in ms.
pub(crate) fn summary(mut latencies: Vec<Duration>) -> [f64; 3] {
    latencies.sort();
    [
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        quantile(&latencies, 1.0),
    ]
}

pub(crate) async fn repeat<F, Fut>(
    runs: usize,
    bar: &indicatif::ProgressBar,
    mut once: F,
) -> anyhow::Result<Rate>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<f64>>,
{
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        rates.push(once().await?);
        bar.inc(1);
    }
    rates.sort_by(f64::total_cmp);
    Ok(Rate {
        median: rates[rates.len() / 2],
        min: rates[0],
        max: rates[rates.len() - 1],
    })
}

pub(crate) enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A database that exists for one measurement, from the test-support crate: a PostgreSQL
/// database created on `--database`'s server and dropped with it, or a SQLite file in a
/// temporary directory of its own.
pub(crate) enum Scratch {
    Sqlite(TestSqlite),
    Postgres(TestDatabase),
}

impl Scratch {
    pub(crate) async fn create(backend: &Backend) -> anyhow::Result<Scratch> {
        Ok(match backend {
            Backend::Sqlite => Scratch::Sqlite(TestSqlite::try_create()?),
            Backend::Postgres(admin) => Scratch::Postgres(
                TestDatabase::create_on(admin)
                    .await
                    .context("create a scratch database on --database")?,
            ),
        })
    }

    /// The URL of the scratch database.
    pub(crate) fn url(&self) -> String {
        match self {
            Scratch::Sqlite(file) => file.url(),
            Scratch::Postgres(db) => db.url().to_owned(),
        }
    }

    /// Where a read store beside it goes: the same PostgreSQL database, or `read.db` beside
    /// the SQLite file.
    pub(crate) fn read_store_url(&self) -> String {
        match self {
            Scratch::Sqlite(file) => format!(
                "sqlite://{}",
                file.path().with_file_name("read.db").display()
            ),
            Scratch::Postgres(db) => db.url().to_owned(),
        }
    }
}
