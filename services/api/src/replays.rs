//! The scratch scorecards that as-of queries read.
//!
//! A query as of a past position or day is answered from a scorecard replayed from the
//! log up to that point: a pass over the log (under a second for a county-year). The
//! branch rankings are public, so an anonymous caller could otherwise have the service
//! replay the log as often as it asks. Replays therefore run one at a time (a caller
//! waits its turn, for a while, then is told to come back: 503 with `Retry-After`), and
//! the last few are kept and answered from while they still hold.
//!
//! A caller (a signed-in principal; the anonymous replay nothing) waits for one point at
//! a time: asking for another while a replay of theirs waits or runs is refused at once
//! (429), so no one caller can hold the slot with a queue of their own; asking again for
//! the same point waits for that replay and answers from it (or is told to retry, 503),
//! and never runs one of its own.
//!
//! The numbers: one replay at a time, a query waits up to 10 s for its turn, and the last
//! three replays are kept, each in an in-memory SQLite store. On the 2,000-member demo
//! county a replay of the whole year takes 0.9 s and its scorecard holds about 15 MiB, so
//! the three add up to about 40 MiB of `serve`'s RSS. A kept replay answers for as long as
//! a new one would give the same: always, for a position or for a day the log has already
//! gone past (the replay stopped at an event that occurred later); for a day not yet over,
//! until the head moves. A query that waited for its turn first looks again among the kept
//! replays, so queries that arrive together for one point share one replay. Each replay
//! run is counted in `allweather_asof_replays_total`.

use crate::problem::ApiError;
use allweather_command::CommandError;
use allweather_log::Log;
use allweather_projections::ReadStore;
use allweather_projections::runner::ProjectionError;
use allweather_projections::scorecard::{self, AsOf};
use prometheus::IntCounter;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How many replayed scorecards are kept (each a county-year's facts, in memory).
const KEEP: usize = 3;

/// Longest a query waits for another's replay to finish before it is refused.
const WAIT: Duration = Duration::from_secs(10);

/// A kept replay.
#[derive(Debug)]
struct Kept {
    as_of: AsOf,
    /// While the log's head is here the replay is what a new one would give; `None` when
    /// it always will be (the log up to a position, or up to an event that occurred after
    /// the day asked for, never changes).
    while_head: Option<u64>,
    store: ReadStore,
    reached: u64,
}

/// The as-of replays of one application.
#[derive(Debug)]
pub(crate) struct Replays {
    gate: Semaphore,
    /// Longest a query waits for its turn.
    wait: Duration,
    kept: Mutex<VecDeque<Kept>>,
    /// The callers with a replay waiting or running, and its point.
    callers: Mutex<HashMap<String, AsOf>>,
    count: IntCounter,
}

/// A caller's place among the replays, given up when dropped.
struct Place<'a> {
    callers: &'a Mutex<HashMap<String, AsOf>>,
    caller: String,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.callers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.caller);
    }
}

impl Replays {
    /// Counts each replay run in `count`.
    pub(crate) fn new(count: IntCounter) -> Replays {
        Replays {
            gate: Semaphore::new(1),
            wait: WAIT,
            kept: Mutex::new(VecDeque::with_capacity(KEEP)),
            callers: Mutex::new(HashMap::new()),
            count,
        }
    }

    /// The scorecard as of `as_of` and the last position it reflects, while the log's head
    /// is `head`: a kept one if it still holds, else a new replay for `caller` (a token's
    /// subject), once no other runs and if the caller has none waiting or running.
    pub(crate) async fn scorecard(
        &self,
        log: &Log,
        as_of: AsOf,
        head: u64,
        caller: &str,
    ) -> Result<(ReadStore, u64), ApiError> {
        if let Some(found) = self.find(as_of, head) {
            return Ok(found);
        }
        let place = self.place(caller, as_of)?;
        let _turn = tokio::time::timeout(self.wait, self.gate.acquire())
            .await
            .map_err(|_| {
                ApiError::unavailable(
                    "the service is busy replaying the log for other as-of queries; retry shortly",
                )
            })?
            .map_err(|e| ApiError::from(anyhow::Error::new(e).context("the replay gate")))?;
        // Another query may have replayed the same point while this one waited.
        if let Some(found) = self.find(as_of, head) {
            return Ok(found);
        }
        // A caller's second query for a point shares the first's replay and never runs
        // one of its own.
        if place.is_none() {
            return Err(ApiError::unavailable(
                "your replay of this point is still running; retry shortly",
            ));
        }
        let (store, reached) =
            scorecard::scratch(log, as_of, |_| {})
                .await
                .map_err(|e: ProjectionError| {
                    ApiError::from(anyhow::Error::new(e).context("replay the scorecard"))
                })?;
        self.count.inc();
        let while_head = match as_of {
            AsOf::Position(_) => None,
            // Stopped short of the head: at an event that occurred after the point.
            AsOf::Before(_) if reached < head => None,
            AsOf::Before(_) | AsOf::Head => Some(reached),
        };
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.retain(|k| k.as_of != as_of);
        if kept.len() == KEEP {
            kept.pop_front();
        }
        kept.push_back(Kept {
            as_of,
            while_head,
            store: store.clone(),
            reached,
        });
        Ok((store, reached))
    }

    /// The caller's place for `as_of`: a new one; none when the caller already waits for
    /// that point (this query shares it); refused when it waits for another.
    fn place(&self, caller: &str, as_of: AsOf) -> Result<Option<Place<'_>>, ApiError> {
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match callers.get(caller) {
            Some(waiting) if *waiting == as_of => Ok(None),
            Some(_) => Err(CommandError::TooManyRequests { retry_after: 1 }.into()),
            None => {
                callers.insert(caller.to_owned(), as_of);
                Ok(Some(Place {
                    callers: &self.callers,
                    caller: caller.to_owned(),
                }))
            }
        }
    }

    fn find(&self, as_of: AsOf, head: u64) -> Option<(ReadStore, u64)> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.iter()
            .find(|k| k.as_of == as_of && k.while_head.is_none_or(|h| h == head))
            .map(|k| (k.store.clone(), k.reached))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allweather_log::LogOptions;
    use allweather_test_support::TestSqlite;

    #[tokio::test]
    async fn a_query_that_waits_too_long_for_its_turn_is_told_to_come_back_and_replays_nothing() {
        let file = TestSqlite::create();
        let log = Log::open(LogOptions::new(file.url())).await.expect("log");
        let count = IntCounter::new("replays", "replays").expect("counter");
        let replays = Replays {
            wait: Duration::from_millis(50),
            ..Replays::new(count.clone())
        };
        let turn = replays.gate.acquire().await.expect("the gate");
        match replays
            .scorecard(&log, AsOf::Position(1), 1, "someone")
            .await
        {
            Err(ApiError::Command(CommandError::Unavailable(m))) => {
                assert!(m.contains("busy"), "{m}")
            }
            other => panic!("a query kept waiting must get 503: {other:?}"),
        }
        assert_eq!(count.get(), 0);
        drop(turn);
        replays
            .scorecard(&log, AsOf::Head, 0, "someone")
            .await
            .expect("once its turn comes, the replay runs");
        assert_eq!(count.get(), 1);
        log.shutdown().await;
    }

    #[tokio::test]
    async fn a_caller_waiting_for_a_replay_is_refused_another_and_others_are_not() {
        let file = TestSqlite::create();
        let log = Log::open(LogOptions::new(file.url())).await.expect("log");
        let count = IntCounter::new("replays", "replays").expect("counter");
        let replays = Replays::new(count.clone());
        let waiting = replays
            .place("greedy", AsOf::Head)
            .expect("a first place")
            .expect("a new place");
        assert!(
            replays
                .place("greedy", AsOf::Head)
                .expect("shared")
                .is_none(),
            "the same point again shares the place"
        );
        match replays
            .scorecard(&log, AsOf::Position(1), 1, "greedy")
            .await
        {
            Err(ApiError::Command(CommandError::TooManyRequests { retry_after })) => {
                assert_eq!(retry_after, 1)
            }
            other => panic!("a second replay of one caller must get 429: {other:?}"),
        }
        assert_eq!(count.get(), 0, "nothing replayed for it");
        replays
            .scorecard(&log, AsOf::Head, 0, "patient")
            .await
            .expect("another caller's replay runs");
        drop(waiting);
        replays
            .scorecard(&log, AsOf::Position(1), 0, "greedy")
            .await
            .expect("once its place is free, the caller replays again");
        assert_eq!(count.get(), 2);
        log.shutdown().await;
    }
}
