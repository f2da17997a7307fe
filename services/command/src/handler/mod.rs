//! Load, decide, append: the one path every command takes, in parts one can name:
//! - this module: the service, its admission (the per-token rate) and its counters;
//! - [`options`]: how commands are handled;
//! - [`retry`]: the loop — decide on cached states, append with every stream read as a
//!   condition, decide again on the log's states after a conflict, within a budget;
//! - [`state`]: the state cache, and bringing in what a decision asks for (streams,
//!   indexes, personal keys);
//! - [`append`]: a decision as the log's append request;
//! - [`idempotency`]: command ids from keys, request digests, answering a repeat;
//! - [`bulk`]: one request decided for many (every member's card);
//! - [`reads`]: what the service answers besides commands (a card, a beneficiary).
//!
//! A command is admitted against its token's rate before anything else (a GCRA limiter
//! keyed by the token's subject; `--rate-limit`, 200 a second with bursts of 400 by
//! default); over it, 429 with `Retry-After`, and nothing is decided. The `system`
//! principal (the scheduler) is never limited. Every command is counted by name and
//! outcome for `/metrics` (`allweather_commands_total`; a name that is no command counts
//! as `unknown`).

mod append;
mod bulk;
mod idempotency;
mod options;
mod reads;
mod retry;
mod state;

pub(crate) use idempotency::bad_key;
pub use idempotency::{command_id, key_schema};
pub use options::{Clock, CommandOptions, Entropy, RateLimit};

use crate::error::CommandError;
use crate::reply::CommandReply;
use allweather_domain::{Command, Ctx, Event, Principal, Snapshot};
use allweather_events::{Catalog, StreamId, Timestamp};
use allweather_log::Log;
use anyhow::Context as _;
use lru::LruCache;
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Runs commands against a log. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct CommandService {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) log: Log,
    pub(super) catalog: Catalog,
    pub(super) limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    pub(super) admitted: std::sync::atomic::AtomicU64,
    pub(super) commands_total: prometheus::IntCounterVec,
    pub(super) scheduler_position: prometheus::IntGauge,
    pub(super) cache: Mutex<LruCache<StreamId, Snapshot>>,
    /// A turn per stream that commands conflicted on: their retries take it one at a
    /// time, each deciding on the state the last one left.
    pub(super) turns: Mutex<HashMap<StreamId, Arc<tokio::sync::Mutex<()>>>>,
    pub(super) options: CommandOptions,
}

/// Streams whose turns are kept before the unused ones are let go.
pub(super) const KEPT_TURNS: usize = 64;

impl fmt::Debug for CommandService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandService")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl CommandService {
    /// A service over `log`.
    pub fn new(log: Log, options: CommandOptions) -> anyhow::Result<CommandService> {
        let catalog =
            Catalog::new(Event::SPECS.iter().copied()).context("build the event catalog")?;
        let capacity = NonZeroUsize::new(options.cache_streams).unwrap_or(NonZeroUsize::MIN);
        let commands_total = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "allweather_commands_total",
                "Commands handled, by command and outcome (ok, or the problem code)",
            ),
            &["command", "outcome"],
        )
        .context("define the commands counter")?;
        let scheduler_position = prometheus::IntGauge::new(
            "allweather_expiry_scheduler_position",
            "The log position the claim-expiry scheduler has followed to",
        )
        .context("define the scheduler's gauge")?;
        Ok(CommandService {
            inner: Arc::new(Inner {
                log,
                catalog,
                admitted: std::sync::atomic::AtomicU64::new(0),
                limiter: options.rate_limit.map(|r| {
                    governor::RateLimiter::keyed(
                        governor::Quota::per_second(r.per_second).allow_burst(r.burst),
                    )
                }),
                commands_total,
                scheduler_position,
                cache: Mutex::new(LruCache::new(capacity)),
                turns: Mutex::new(HashMap::new()),
                options,
            }),
        })
    }

    /// The log commands are appended to.
    pub fn log(&self) -> &Log {
        &self.inner.log
    }

    /// The catalog of the domain's events (to read stored events).
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// How the service was set up.
    pub fn options(&self) -> &CommandOptions {
        &self.inner.options
    }

    /// Commands handled, by command and outcome, for `/metrics`.
    pub fn commands_total(&self) -> &prometheus::IntCounterVec {
        &self.inner.commands_total
    }

    /// The position the claim-expiry scheduler has followed the log to, for `/metrics`.
    pub fn scheduler_position(&self) -> &prometheus::IntGauge {
        &self.inner.scheduler_position
    }

    /// The current time, by the service's clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_datetime((self.inner.options.clock)())
    }

    /// The context a command or query of `principal` is decided in, now, with the log's
    /// head at `head`.
    pub(super) fn ctx(&self, principal: &Principal, new_id: Uuid, head: u64) -> Ctx {
        let now = self.now();
        Ctx {
            now,
            today: now
                .to_datetime()
                .with_timezone(&self.inner.options.county_offset)
                .date_naive(),
            principal: principal.clone(),
            head,
            new_id,
        }
    }

    /// Runs the command `name` with its JSON `body` for `principal`; the answer is the
    /// API's success body. Counted by command and outcome.
    pub async fn execute(
        &self,
        principal: &Principal,
        name: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<CommandReply, CommandError> {
        let result = match self.admit(principal) {
            Ok(()) => match self.run(principal, name, idempotency_key, body).await {
                Ok(reply) => self.beside_the_log(name, body, reply).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        // Only known names become labels: a caller cannot grow the metrics at will.
        let command = if Command::NAMES.contains(&name) {
            name
        } else {
            "unknown"
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.inner
            .commands_total
            .with_label_values(&[command, outcome])
            .inc();
        result
    }

    /// Runs `command` for `principal`: its body through [`CommandService::execute`], so a
    /// typed command takes the one path every command takes.
    pub async fn submit(
        &self,
        principal: &Principal,
        command: impl Into<Command>,
        idempotency_key: Option<&str>,
    ) -> Result<CommandReply, CommandError> {
        let command = command.into();
        let body = command.body().to_string();
        self.execute(principal, command.name(), idempotency_key, body.as_bytes())
            .await
    }

    /// Refuses a command over its token's rate (the system's own principal is exempt).
    fn admit(&self, principal: &Principal) -> Result<(), CommandError> {
        let Some(limiter) = &self.inner.limiter else {
            return Ok(());
        };
        if principal.role == allweather_events::Role::System {
            return Ok(());
        }
        // Forget tokens idle long enough to have their whole burst back, now and then, so
        // the limiter's memory follows the tokens in use.
        if self
            .inner
            .admitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(4096)
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&principal.subject).map_err(|not_until| {
            use governor::clock::Clock as _;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            CommandError::TooManyRequests {
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use allweather_events::Role;
    use allweather_log::LogOptions;
    use axum::response::IntoResponse as _;
    use std::num::NonZeroU32;

    #[tokio::test]
    async fn a_token_over_its_rate_gets_429_with_retry_after_and_appends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
            .await
            .unwrap();
        let options = CommandOptions {
            rate_limit: Some(RateLimit {
                per_second: NonZeroU32::new(1).unwrap(),
                burst: NonZeroU32::new(3).unwrap(),
            }),
            ..CommandOptions::default()
        };
        let service = CommandService::new(log.clone(), options).unwrap();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let body = br#"{"name":"Water Bureau","kind":"unit"}"#;
        // The burst is spent without I/O, so a slow machine cannot refill it meanwhile.
        for _ in 0..3 {
            service.admit(&admin).unwrap();
        }
        let refused = service
            .execute(&admin, "RegisterBranch", None, body)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, CommandError::TooManyRequests { retry_after } if retry_after >= 1),
            "{refused:?}"
        );
        let response = crate::ApiError::from(refused).into_response();
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(
            log.head().await.unwrap().position,
            0,
            "the refused command appended nothing"
        );
        // Another token has its own rate; the scheduler is never limited.
        let other = Principal {
            subject: "other-admin".into(),
            ..admin.clone()
        };
        service
            .execute(&other, "RegisterBranch", None, body)
            .await
            .unwrap();
        let system = Principal {
            subject: "scheduler".into(),
            role: Role::System,
            member_id: None,
            branch_id: None,
        };
        for _ in 0..5 {
            let e = service
                .execute(
                    &system,
                    "ExpireClaim",
                    None,
                    br#"{"wish_id":"01a21f13-0146-71d9-867f-a430b6c16b05"}"#,
                )
                .await
                .unwrap_err();
            assert_eq!(
                e.code(),
                "not_found",
                "refused by the domain, never by the rate: {e:?}"
            );
        }
        log.shutdown().await;
    }
}
