//! Load, decide, append: the one path every command takes.

use crate::problem::ApiError;
use allweather_domain::personal::{self, PersonKey};
use allweather_domain::{Command, Ctx, Decide, Event, Principal, Snapshot, State, World, decide};
use allweather_events::{Catalog, Hash, Payload, StreamId, Timestamp};
use allweather_log::{
    AppendError, AppendOutcome, AppendRequest, ExpectedVersion, Log, NewEvent, StoredKey,
    StreamWrite,
};
use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, Utc};
use lru::LruCache;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::HashMap;
use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Namespace of the UUID v5 ids derived from idempotency keys that are not UUIDs.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6177_6964_656d_7000_8000_0000_0000_0001);

/// Most streams one decision may read (a guard against a loop in `decide`).
const MAX_STREAMS_PER_DECISION: usize = 16;

/// Events read per page when loading a stream.
const PAGE: u32 = 1_000;

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

/// A per-token command rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained commands per second.
    pub per_second: NonZeroU32,
    /// Commands admitted at once.
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

/// Runs commands against a log. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct CommandService {
    inner: Arc<Inner>,
}

struct Inner {
    log: Log,
    catalog: Catalog,
    limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    admitted: std::sync::atomic::AtomicU64,
    commands_total: prometheus::IntCounterVec,
    cache: Mutex<LruCache<StreamId, Snapshot>>,
    /// A turn per stream that commands conflicted on: their retries take it one at a
    /// time, each deciding on the state the last one left.
    turns: Mutex<HashMap<StreamId, Arc<tokio::sync::Mutex<()>>>>,
    options: CommandOptions,
}

/// Streams whose turns are kept before the unused ones are let go.
const KEPT_TURNS: usize = 64;

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

    /// The current time, by the service's clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_datetime((self.inner.options.clock)())
    }

    /// The context a command or query of `principal` is decided in, now, with the log's
    /// head at `head`.
    fn ctx(&self, principal: &Principal, new_id: Uuid, head: u64) -> Ctx {
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
    ) -> Result<Value, ApiError> {
        let result = match self.admit(principal) {
            Ok(()) => self.run(principal, name, idempotency_key, body).await,
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

    /// Refuses a command over its token's rate (the system's own principal is exempt).
    fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
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
            ApiError::TooManyRequests {
                retry_after: wait.as_secs().max(1),
            }
        })
    }

    #[tracing::instrument(skip_all, fields(command = %name, actor = %principal.subject), err(level = "debug"))]
    async fn run(
        &self,
        principal: &Principal,
        name: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let command_id = command_id(idempotency_key)?;
        let command = Command::parse(name, body)
            .map_err(|e| ApiError::field(e.field, e.message))?
            .ok_or_else(|| ApiError::NotFound(format!("there is no command named {name:?}")))?;
        let digest = request_digest(name, body);
        if let Command::IssueDualCard(c) = &command
            && c.member_id.is_none()
        {
            return self
                .issue_cards_in_bulk(principal, command_id, c.year)
                .await;
        }
        let log = &self.inner.log;
        // Only a caller's key can repeat: a command without one has a fresh id, and
        // looking it up would cost a round trip per command for nothing.
        let repeatable = idempotency_key.is_some();
        if repeatable && let Some(first) = log.recorded(command_id).await? {
            return repeat(&first, digest);
        }
        // A new aggregate's id: the command id when that is a UUID v7 (the id a client
        // chose by its key), else a fresh v7. A repeat of the same command that races the
        // first to a new stream is told apart by the log (`CommandIdReused`) and answered
        // with the first's result below.
        let new_id = if command_id.get_version_num() == 7 {
            command_id
        } else {
            Uuid::now_v7()
        };
        let mut attempt = 0;
        let arrived = std::time::Instant::now();
        // The first decision trusts the cached states without reading the log: every
        // stream it read is a condition of its append, so a state another process has
        // moved on from fails the append (a version conflict), and the command is decided
        // again on states read from the log. A refusal is only ever given from those.
        let mut fresh = false;
        // The stream the last attempt conflicted on: the retry waits its turn on it.
        let mut hot: Option<StreamId> = None;
        loop {
            attempt += 1;
            // The turn is waited for within what is left of the conflict budget.
            let _turn = match &hot {
                Some(stream) => {
                    let left = self
                        .inner
                        .options
                        .conflict_budget
                        .saturating_sub(arrived.elapsed());
                    match tokio::time::timeout(left, self.turn(stream)).await {
                        Ok(turn) => Some(turn),
                        Err(_) => {
                            return Err(ApiError::Conflict(format!(
                                "stream {stream} kept changing while the command was decided ({attempt} attempts); try again"
                            )));
                        }
                    }
                }
                None => None,
            };
            // The head as this process knows it, and read from the database when deciding
            // afresh (another process may have committed what a command cites).
            let head = if fresh {
                log.head().await?.position
            } else {
                log.known_head()
            };
            let ctx = self.ctx(principal, new_id, head);
            let now = ctx.now;
            let (world, decision) = match self.decide(&command, &ctx, fresh).await? {
                Ok(decided) => decided,
                Err(_) if !fresh => {
                    fresh = true;
                    continue;
                }
                Err(refusal) => {
                    // The same command may have committed meanwhile (a repeat racing the
                    // first): then it answers as the first did.
                    if repeatable && let Some(first) = log.recorded(command_id).await? {
                        return repeat(&first, digest);
                    }
                    return Err(refusal.into());
                }
            };
            let mut request = append_request(&world, &decision, command_id, principal, now)?;
            request.request_digest = Some(digest);
            // An erasure destroys the key before its record is appended: the record never
            // stands while the details can still be read. Destroying twice is harmless,
            // so a retry after a failed append finishes the job.
            for person in &decision.erase_keys {
                log.erase_person_key(*person).await?;
            }
            match log.append(request).await {
                Ok(outcome) if outcome.replayed => return repeat(&outcome, digest),
                Ok(outcome) => {
                    self.remember(world, &decision);
                    return Ok(reply(&outcome));
                }
                Err(AppendError::VersionConflict { stream_id, .. })
                    if attempt < self.inner.options.max_attempts
                        || arrived.elapsed() < self.inner.options.conflict_budget =>
                {
                    tracing::debug!(%stream_id, attempt, "version conflict; deciding again");
                    fresh = true;
                    hot = StreamId::parse(stream_id).ok();
                }
                Err(AppendError::VersionConflict { stream_id, .. }) => {
                    return Err(ApiError::Conflict(format!(
                        "stream {stream_id} kept changing while the command was decided ({attempt} attempts); try again"
                    )));
                }
                Err(e @ AppendError::CommandIdReused { .. }) => {
                    return match log.recorded(command_id).await? {
                        Some(first) => repeat(&first, digest),
                        None => Err(e.into()),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Decides `command`, bringing in the streams and keys it asks for: read from the
    /// log when `fresh`, else taken from the cache as they are when it holds them.
    async fn decide(
        &self,
        command: &Command,
        ctx: &Ctx,
        fresh: bool,
    ) -> Result<
        Result<(World, allweather_domain::Decision), allweather_domain::DomainError>,
        ApiError,
    > {
        self.resolve(|world| decide(world, command, ctx), fresh)
            .await
    }

    /// Runs `f` (a decision or a query of the domain) until it has every stream and key
    /// it asks for; streams are read from the log when `fresh`, else taken from the cache
    /// when it holds them.
    async fn resolve<T>(
        &self,
        f: impl Fn(&World) -> Result<T, Decide>,
        fresh: bool,
    ) -> Result<Result<(World, T), allweather_domain::DomainError>, ApiError> {
        let mut world = World::new();
        for _ in 0..=MAX_STREAMS_PER_DECISION {
            match f(&world) {
                Ok(answer) => return Ok(Ok((world, answer))),
                Err(Decide::Refused(e)) => return Ok(Err(e)),
                Err(Decide::Need(stream)) => self.bring_in(&mut world, [stream], fresh).await?,
                Err(Decide::NeedIndex(aggregate)) => {
                    if world.index(aggregate).is_ok() {
                        return Err(anyhow::anyhow!(
                            "decide asked again for the index of {aggregate}"
                        )
                        .into());
                    }
                    let ids = self
                        .inner
                        .log
                        .stream_ids(aggregate)
                        .await?
                        .iter()
                        .filter_map(|id| id.parse().ok())
                        .collect();
                    world.insert_index(aggregate, ids);
                }
                Err(Decide::NeedAll(streams)) => self.bring_in(&mut world, streams, fresh).await?,
                Err(Decide::NeedKey { person_id, create }) => {
                    if world.has_key(person_id) {
                        return Err(anyhow::anyhow!(
                            "decide asked again for the key of person {person_id}"
                        )
                        .into());
                    }
                    let key = self.person_key(person_id, create).await?;
                    world.insert_key(person_id, key);
                }
            }
        }
        Err(anyhow::anyhow!("a decision read more than {MAX_STREAMS_PER_DECISION} streams").into())
    }

    /// The turn on `stream` for a command that conflicted on it: under a storm of claims
    /// on one wish, every loser would otherwise decide again at once and all but one
    /// conflict again, round after round; taking turns, each decides once on the state
    /// the last one left and is seated or refused by the rule. (Across instances the
    /// log's conflict check still decides; turns only spare the rounds.)
    async fn turn(&self, stream: &StreamId) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut turns = self.inner.turns.lock().unwrap_or_else(|p| p.into_inner());
            if turns.len() >= KEPT_TURNS {
                turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            turns.entry(stream.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Brings `streams` into `world` for a decision; a stream asked for again is a loop in
    /// `decide`, an error.
    async fn bring_in(
        &self,
        world: &mut World,
        streams: impl IntoIterator<Item = StreamId>,
        fresh: bool,
    ) -> Result<(), ApiError> {
        for stream in streams {
            if world.snapshot(&stream).is_some() {
                return Err(
                    anyhow::anyhow!("decide asked again for loaded stream {stream}").into(),
                );
            }
            let snapshot = self.snapshot(&stream, fresh).await?;
            world.insert(stream, snapshot);
        }
        Ok(())
    }

    /// A stream's state for a decision: read from the log when `fresh`, else the cached
    /// one as it is when the cache holds it.
    async fn snapshot(&self, stream: &StreamId, fresh: bool) -> Result<Snapshot, ApiError> {
        let cached = if fresh {
            None
        } else {
            self.cache().get(stream).cloned()
        };
        match cached {
            Some(snapshot) => Ok(snapshot),
            None => self.load(stream).await,
        }
    }

    /// `IssueDualCard` with `all_members`: a committee admin's one request, decided as
    /// one `IssueDualCard` per registered member, each under a command id derived from
    /// the request's and the member's (so a repeat of the request repeats each and
    /// appends nothing). A member the rules refuse a card (one already issued, no
    /// service branch) is skipped and reported with the rule.
    async fn issue_cards_in_bulk(
        &self,
        principal: &Principal,
        command_id: Uuid,
        year: i32,
    ) -> Result<Value, ApiError> {
        let head = self.inner.log.known_head();
        allweather_domain::dualcard::may_issue_in_bulk(&self.ctx(principal, command_id, head))?;
        let mut issued = Vec::new();
        let mut skipped = Vec::new();
        let mut events = Vec::new();
        let mut position = 0;
        for id in self.inner.log.stream_ids("member").await? {
            let Ok(member_id) = id.parse::<Uuid>() else {
                continue;
            };
            let key = Uuid::new_v5(&command_id, member_id.as_bytes()).to_string();
            let body = json!({"member_id": member_id, "year": year}).to_string();
            match Box::pin(self.run(principal, "IssueDualCard", Some(&key), body.as_bytes())).await
            {
                Ok(reply) => {
                    issued.push(member_id);
                    position = position.max(reply["position"].as_u64().unwrap_or(0));
                    if let Value::Array(e) = &reply["events"] {
                        events.extend(e.iter().cloned());
                    }
                }
                Err(ApiError::Refused(e)) => skipped.push(json!({
                    "member_id": member_id, "rule": e.rule.name(), "detail": e.detail,
                })),
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "command_id": command_id, "position": position, "id": "", "events": events,
            "issued": issued, "skipped": skipped,
        }))
    }

    /// Member `member_id`'s dual card of `year` as both sides recorded it, for those the
    /// domain lets read it ([`allweather_domain::dualcard::read`]), with the log position
    /// it reflects at least.
    pub async fn card(
        &self,
        principal: &Principal,
        member_id: Uuid,
        year: i32,
    ) -> Result<Value, ApiError> {
        let head = self.inner.log.head().await?.position;
        let ctx = self.ctx(principal, member_id, head);
        let (_, card) = self
            .resolve(
                |world| allweather_domain::dualcard::read(world, member_id, year, &ctx).cloned(),
                true,
            )
            .await??;
        let side = |key| {
            card.signed
                .get(&key)
                .map(|s: &allweather_domain::dualcard::Signature| {
                    json!({"opinion": s.opinion, "remarks": s.remarks, "signer_id": s.signer_id,
                       "capacity": s.capacity})
                })
        };
        use allweather_domain::dualcard::SideKey;
        let feedback: Vec<Value> = card
            .feedback
            .iter()
            .map(|(quarter, note)| json!({"quarter": quarter, "note": note}))
            .collect();
        Ok(json!({
            "member_id": member_id, "year": year, "position": head,
            "unit_branch_id": card.unit_branch_id, "service_branch_id": card.service_branch_id,
            "community": {
                "feedback": feedback,
                "stars": card.stars.as_ref().map(|(n, reason)| json!({"stars": n, "reason": reason})),
                "signed": side(SideKey::Community),
            },
            "unit": {"signed": side(SideKey::Unit)},
            "complete": card.complete,
        }))
    }

    /// A person's key from the key store (made first if `create`), with a nonce drawn
    /// for this decision alone.
    async fn person_key(&self, person_id: Uuid, create: bool) -> Result<PersonKey, ApiError> {
        let stored = if create {
            self.inner
                .log
                .person_key_or_create(person_id, self.random()?)
                .await?
        } else {
            self.inner.log.person_key(person_id).await?
        };
        Ok(match stored {
            StoredKey::Missing => PersonKey::Unknown,
            StoredKey::Erased => PersonKey::Erased,
            StoredKey::Live(key) => PersonKey::Live {
                key,
                nonce: self.random()?,
            },
        })
    }

    /// The name and contact of a wish's beneficiary, for those who deliver it (the
    /// domain says who: [`allweather_domain::wish::beneficiary`]); a placeholder once
    /// the person is erased.
    pub async fn beneficiary(
        &self,
        principal: &Principal,
        wish_id: Uuid,
    ) -> Result<Value, ApiError> {
        let ctx = self.ctx(principal, wish_id, self.inner.log.known_head());
        let (_, sealed) = self
            .resolve(
                |world| allweather_domain::wish::beneficiary(world, wish_id, &ctx),
                true,
            )
            .await??;
        let details = match self.inner.log.person_key(sealed.person_id).await? {
            StoredKey::Live(key) => {
                Some(personal::open(&sealed, &key).context("open a beneficiary's details")?)
            }
            StoredKey::Erased => None,
            // Details sealed under a key the store never had: the store is out of step
            // with the log (a restore of one without the other), not an erasure.
            StoredKey::Missing => {
                return Err(anyhow::anyhow!(
                    "the key store has no key for person {}, whose details wish {wish_id} carries",
                    sealed.person_id
                )
                .into());
            }
        };
        Ok(match details {
            Some(d) => json!({
                "wish_id": wish_id, "beneficiary_id": sealed.person_id,
                "name": d.name, "contact": d.contact, "erased": false,
            }),
            None => json!({
                "wish_id": wish_id, "beneficiary_id": sealed.person_id,
                "name": personal::ERASED, "contact": null, "erased": true,
            }),
        })
    }

    /// A stream's state: from the cache, brought up to date with the events after the
    /// cached version; else read whole.
    async fn load(&self, stream: &StreamId) -> Result<Snapshot, ApiError> {
        let cached = self.cache().get(stream).cloned();
        let mut snapshot = match cached {
            Some(s) => s,
            None => Snapshot {
                version: 0,
                state: State::empty(stream)
                    .ok_or_else(|| anyhow::anyhow!("{stream} is not a stream of the domain"))?,
            },
        };
        loop {
            let events = self
                .inner
                .log
                .read_stream(stream, snapshot.version + 1, PAGE)
                .await?;
            for envelope in &events {
                let payload = self
                    .inner
                    .catalog
                    .decode(envelope)
                    .context("decode a stored event")?;
                let event =
                    Event::from_stored(&envelope.event_type, payload).with_context(|| {
                        format!(
                            "read the {} at position {}",
                            envelope.event_type, envelope.position
                        )
                    })?;
                snapshot.state.evolve(&event);
                snapshot.version = envelope.stream_version;
            }
            if events.len() < PAGE as usize {
                break;
            }
        }
        self.cache().put(stream.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// Keeps the states a committed decision left behind.
    fn remember(&self, mut world: World, decision: &allweather_domain::Decision) {
        for (stream, events) in &decision.writes {
            world.apply(stream, events);
        }
        let mut cache = self.cache();
        for (stream, events) in &decision.writes {
            if let (false, Some(s)) = (events.is_empty(), world.snapshot(stream)) {
                cache.put(stream.clone(), s.clone());
            }
        }
    }

    /// Random bytes for a key or a nonce.
    fn random<const N: usize>(&self) -> Result<[u8; N], ApiError> {
        let mut bytes = [0; N];
        (self.inner.options.entropy)(&mut bytes)?;
        Ok(bytes)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<StreamId, Snapshot>> {
        // A panic while holding the lock leaves at worst a stale entry, which the next
        // load brings up to date from the log: the poison carries no risk.
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The append for a decision: each stream it writes at the version it was decided
/// against, and every stream it only read as a condition at its version too. So no
/// check across aggregates is ever stale: if a stream the decision read (the branch's
/// secretary, the member's service branch, the year's closing, a campaign's dates)
/// changed before the append, the append conflicts and the command is decided again.
fn append_request(
    world: &World,
    decision: &allweather_domain::Decision,
    command_id: Uuid,
    principal: &Principal,
    now: Timestamp,
) -> Result<AppendRequest, ApiError> {
    let mut writes = Vec::with_capacity(decision.writes.len());
    for (stream, events) in &decision.writes {
        let version = world
            .snapshot(stream)
            .map(|s| s.version)
            .ok_or_else(|| anyhow::anyhow!("decide wrote to {stream} without reading it"))?;
        let events = events
            .iter()
            .map(|e| {
                Ok(NewEvent {
                    event_type: e.event_type().to_owned(),
                    schema_version: e.schema_version(),
                    occurred_at: now,
                    payload: Payload::from_value(&e.payload())
                        .with_context(|| format!("encode {}", e.event_type()))?,
                })
            })
            .collect::<Result<Vec<_>, anyhow::Error>>()?;
        let expected_version = ExpectedVersion::read_at(version);
        writes.push(StreamWrite {
            stream_id: stream.clone(),
            expected_version,
            events,
        });
    }
    let mut read_only: Vec<(&StreamId, u64)> = world
        .streams()
        .filter(|(stream, _)| {
            !decision
                .writes
                .iter()
                .any(|(written, _)| written == *stream)
        })
        .map(|(stream, snapshot)| (stream, snapshot.version))
        .collect();
    read_only.sort_unstable();
    for (stream, version) in read_only {
        let expected_version = ExpectedVersion::read_at(version);
        writes.push(StreamWrite {
            stream_id: stream.clone(),
            expected_version,
            events: Vec::new(),
        });
    }
    let mut writes = writes.into_iter();
    let first = writes
        .next()
        .ok_or_else(|| anyhow::anyhow!("a decision without events"))?;
    Ok(AppendRequest {
        request_digest: None,
        command_id,
        correlation_id: command_id,
        actor: allweather_events::Actor {
            id: principal.subject.clone(),
            role: principal.role,
        },
        stream_id: first.stream_id,
        expected_version: first.expected_version,
        events: first.events,
        also: writes.collect(),
    })
}

/// A digest of a request: its command name and its body as JSON with sorted keys (the
/// body has been parsed, so it is JSON), so that spacing, key order and a field sent as
/// `null` rather than left out do not count. A person's details are left out: the digest
/// stays in the `commands` table after the person is erased, and a digest of a name or a
/// phone number could be found again by trying every likely one. A key reused for a
/// request that differs only in them is therefore answered as a repeat.
fn request_digest(name: &str, body: &[u8]) -> Hash {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut fields)) => {
            fields.retain(|field, value| {
                !value.is_null() && !personal::FIELDS.contains(&field.as_str())
            });
            Value::Object(fields).to_string().into_bytes()
        }
        Ok(other) => other.to_string().into_bytes(),
        Err(_) => body.to_vec(),
    };
    let mut sha = sha2::Sha256::new();
    sha.update(name.as_bytes());
    sha.update([0]);
    sha.update(&body);
    Hash(sha.finalize().into())
}

/// The answer to a repeated key: the first request's answer if this is the same request;
/// refused if the key first came with another command or body (a client's bug that a
/// silent replay would hide).
fn repeat(first: &AppendOutcome, digest: Hash) -> Result<Value, ApiError> {
    match first.request_digest {
        Some(recorded) if recorded != digest => Err(ApiError::KeyReused(format!(
            "the idempotency key of command {} was first used for a different request (another command or body); a new request needs a new key",
            first.command_id
        ))),
        _ => Ok(reply(first)),
    }
}

/// The API's success body for an append (first or replayed).
fn reply(outcome: &AppendOutcome) -> Value {
    let events: Vec<Value> = outcome
        .events
        .iter()
        .map(|e| {
            json!({
                "event_id": e.event_id, "event_type": e.event_type, "stream_id": e.stream_id,
                "stream_version": e.stream_version, "position": e.position,
            })
        })
        .collect();
    let id = outcome
        .events
        .first()
        .and_then(|e| e.stream_id.split_once('-'))
        .map_or("", |(_, id)| id);
    json!({ "command_id": outcome.command_id, "position": outcome.position(), "id": id, "events": events })
}

/// The refusal of an idempotency key that is not 1–200 visible ASCII characters.
pub(crate) fn bad_key() -> ApiError {
    ApiError::field(
        "Idempotency-Key",
        "must be 1 to 200 visible ASCII characters",
    )
}

/// The command id: the idempotency key (a UUID, or any other key of 1–200 visible ASCII
/// characters, mapped to a UUID v5), or a new UUID v7.
pub(crate) fn command_id(key: Option<&str>) -> Result<Uuid, ApiError> {
    let Some(key) = key else {
        return Ok(Uuid::now_v7());
    };
    if !(1..=200).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_key());
    }
    Ok(Uuid::parse_str(key)
        .unwrap_or_else(|_| Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use allweather_domain::Decision;
    use allweather_domain::world::streams;
    use allweather_events::Role;

    #[test]
    fn a_request_digest_ignores_spacing_and_key_order_but_not_the_body_or_the_command() {
        let a = request_digest("RegisterBranch", br#"{"name":"A","kind":"unit"}"#);
        assert_eq!(
            a,
            request_digest("RegisterBranch", br#"{ "kind": "unit",  "name": "A" }"#)
        );
        assert_ne!(
            a,
            request_digest("RegisterBranch", br#"{"name":"B","kind":"unit"}"#)
        );
        assert_ne!(
            a,
            request_digest("RegisterMember", br#"{"name":"A","kind":"unit"}"#)
        );
        assert_eq!(
            a,
            request_digest(
                "RegisterBranch",
                br#"{"name":"A","kind":"unit","community":null}"#
            ),
            "null is as left out"
        );
    }

    #[test]
    fn a_request_digest_holds_nothing_of_a_persons_details() {
        let wish = |name: &str, contact: &str| {
            json!({"title": "A coat", "beneficiary": name, "beneficiary_contact": contact})
                .to_string()
        };
        assert_eq!(
            request_digest("PublishWish", wish("Zhao", "138").as_bytes()),
            request_digest("PublishWish", wish("Qian", "139").as_bytes())
        );
        assert_ne!(
            request_digest("PublishWish", wish("Zhao", "138").as_bytes()),
            request_digest(
                "PublishWish",
                wish("Zhao", "138").replace("A coat", "A hat").as_bytes()
            )
        );
    }

    #[test]
    fn every_stream_a_decision_read_is_a_condition_of_its_append() {
        let (branch, member, wish) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut world = World::new();
        let snapshot = |stream: &StreamId, version| Snapshot {
            version,
            state: State::empty(stream).unwrap(),
        };
        for (stream, version) in [
            (streams::wish(wish), 1),
            (streams::branch(branch), 4),
            (streams::member(member), 2),
            (streams::rules(2026), 0),
        ] {
            world.insert(stream.clone(), snapshot(&stream, version));
        }
        let event = |wish_id| Event::ClaimClosed(allweather_domain::event::ClaimClosed { wish_id });
        let decision = Decision::to(streams::wish(wish), vec![event(wish)]);
        let principal = Principal {
            subject: "s".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let request = append_request(
            &world,
            &decision,
            Uuid::from_u128(9),
            &principal,
            Timestamp::from_micros(0),
        )
        .unwrap();
        assert_eq!(
            (request.stream_id.as_str(), request.expected_version),
            (
                "wish-00000000-0000-0000-0000-000000000003",
                ExpectedVersion::Exact(1)
            )
        );
        let conditions: Vec<(String, ExpectedVersion, usize)> = request
            .also
            .iter()
            .map(|w| {
                (
                    w.stream_id.as_str().to_owned(),
                    w.expected_version,
                    w.events.len(),
                )
            })
            .collect();
        assert_eq!(
            conditions,
            vec![
                (
                    streams::branch(branch).as_str().to_owned(),
                    ExpectedVersion::Exact(4),
                    0
                ),
                (
                    streams::member(member).as_str().to_owned(),
                    ExpectedVersion::Exact(2),
                    0
                ),
                ("rules-2026".to_owned(), ExpectedVersion::NoStream, 0),
            ]
        );
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use allweather_domain::world::streams;
    use allweather_events::Role;
    use allweather_log::LogOptions;

    #[tokio::test]
    async fn a_cached_stream_is_brought_up_to_date_from_its_version_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
            .await
            .unwrap();
        let service = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let reply = service
            .execute(
                &admin,
                "RegisterBranch",
                None,
                br#"{"name":"Water Bureau","kind":"unit"}"#,
            )
            .await
            .unwrap();
        let branch: Uuid = reply["id"].as_str().unwrap().parse().unwrap();
        let stream = streams::branch(branch);
        assert_eq!(
            service.cache().peek(&stream).map(|s| s.version),
            Some(1),
            "the committed state is cached"
        );

        // Another instance appends to the stream: the next load reads only that event.
        let other = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        other
            .execute(
                &admin,
                "DesignateDemonstrationSite",
                None,
                format!(r#"{{"branch_id":"{branch}","year":2025,"level":"county"}}"#).as_bytes(),
            )
            .await
            .unwrap();
        let mut stale = service.cache().peek(&stream).cloned().unwrap();
        assert_eq!(stale.version, 1);
        // Poison the cached state in a way only a re-read would repair: a cached name the
        // log never held stays, proving the load started from the cache.
        if let State::Branch(b) = &mut stale.state {
            b.name = "from the cache".into();
        }
        service.cache().put(stream.clone(), stale);
        let loaded = service.load(&stream).await.unwrap();
        assert_eq!(loaded.version, 2);
        let State::Branch(b) = &loaded.state else {
            panic!("a branch")
        };
        assert_eq!(b.name, "from the cache");
        assert!(b.site_years.contains(&2025), "the new event was applied");
        log.shutdown().await;
    }

    #[tokio::test]
    async fn a_decision_on_a_stale_cached_state_fails_its_append_and_is_decided_on_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
            .await
            .unwrap();
        let service = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let other = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let branch = Uuid::now_v7();
        let designate =
            format!(r#"{{"branch_id":"{branch}","year":2025,"level":"county"}}"#).into_bytes();

        // A refusal from the cache is not final: `service` caches the branch as not yet
        // registered, `other` registers it, and `service`'s next command on it is accepted.
        let refused = service
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap_err();
        assert!(matches!(refused, ApiError::Refused(_)), "{refused:?}");
        let stream = streams::branch(branch);
        assert_eq!(service.cache().peek(&stream).map(|s| s.version), Some(0));
        other
            .execute(
                &admin,
                "RegisterBranch",
                None,
                format!(r#"{{"branch_id":"{branch}","name":"Water Bureau","kind":"unit"}}"#)
                    .as_bytes(),
            )
            .await
            .unwrap();
        service
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap();
        assert_eq!(log.head().await.unwrap().position, 2);

        // A success from the cache is not final either: `other`'s cache still holds the
        // branch before the designation, and designating again is refused, from the log.
        assert_eq!(other.cache().peek(&stream).map(|s| s.version), Some(1));
        let again = other
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap_err();
        let ApiError::Refused(e) = &again else {
            panic!("a refusal, not {again:?}")
        };
        assert_eq!(e.rule, allweather_domain::Rule::SiteAlreadyDesignated);
        assert_eq!(log.head().await.unwrap().position, 2, "nothing appended");
        log.shutdown().await;
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use allweather_events::Role;
    use allweather_log::LogOptions;
    use axum::response::IntoResponse as _;

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
            matches!(refused, ApiError::TooManyRequests { retry_after } if retry_after >= 1),
            "{refused:?}"
        );
        let response = refused.into_response();
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
