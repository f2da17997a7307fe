//! How commands are handled: the clock, randomness, the state cache's size, the retry
//! budget, the per-token rate.

use chrono::{DateTime, FixedOffset, Utc};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Where the time comes from: the wall clock, or a test's.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Where keys and nonces come from: the operating system, or a seeded generator (the
/// demo county, whose log must hash the same on every run).
pub type Entropy = Arc<dyn Fn(&mut [u8]) -> anyhow::Result<()> + Send + Sync>;

/// How commands are handled.
#[derive(Clone)]
pub struct CommandOptions {
    /// The county's offset from UTC, for the calendar date of facts (China: +08:00).
    pub county_offset: FixedOffset,
    /// Stream states kept in memory.
    pub cache_streams: usize,
    /// Decisions tried per command before a version conflict is given to the caller...
    pub max_attempts: u32,
    /// ...or, for as long as this lasts since the command arrived, as many as it takes.
    /// Every conflict means another command on the same stream committed: under a storm
    /// of claims on a need for many volunteers, each round seats one more, so a claim
    /// keeps its turn until the places are taken (then it is refused by the rule).
    pub conflict_budget: std::time::Duration,
    /// The clock.
    pub clock: Clock,
    /// Randomness for the keys and nonces that seal personal details.
    pub entropy: Entropy,
    /// Longest the claim-expiry scheduler goes without looking at the clock.
    pub expiry_check: std::time::Duration,
    /// Commands a token may issue per second, and in a burst (`None`: no limit). The
    /// system's own principal (the scheduler) is never limited.
    pub rate_limit: Option<RateLimit>,
}

/// A rate: of commands per token, or of anonymous requests per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained per second.
    pub per_second: NonZeroU32,
    /// Admitted at once.
    pub burst: NonZeroU32,
}

impl Default for CommandOptions {
    fn default() -> Self {
        CommandOptions {
            county_offset: FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"),
            cache_streams: 10_000,
            max_attempts: 5,
            conflict_budget: std::time::Duration::from_secs(10),
            clock: Arc::new(Utc::now),
            entropy: Arc::new(|bytes| {
                getrandom::fill(bytes).map_err(|e| anyhow::anyhow!("draw random bytes: {e}"))
            }),
            expiry_check: std::time::Duration::from_secs(30),
            rate_limit: Some(RateLimit {
                per_second: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(400).unwrap_or(NonZeroU32::MIN),
            }),
        }
    }
}

impl fmt::Debug for CommandOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandOptions")
            .field("county_offset", &self.county_offset)
            .field("cache_streams", &self.cache_streams)
            .field("max_attempts", &self.max_attempts)
            .field("conflict_budget", &self.conflict_budget)
            .field("expiry_check", &self.expiry_check)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}
