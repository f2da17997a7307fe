//! The retry loop: a command decided on cached states and appended with every stream it
//! read as a condition; on a version conflict decided again on the log's states, waiting
//! its turn on the stream it conflicted on, within the conflict budget; a refusal is only
//! ever given from states read from the log.
//!
//! At least `max_attempts` (5) decisions, and past that as many as the `conflict_budget`
//! (10 s since the command arrived) allows, then 409. Across instances turns only spare
//! rounds: the log's conditions still decide. No check across aggregates is ever stale:
//! if the branch's secretary, the member's service branch, the year's closing or a
//! campaign's dates changed after they were read, the append conflicts. An erasure
//! destroys the person's key before the append, so the record never stands while the
//! details can be read. A refusal, and `CommandIdReused` (a repeat racing the first to a
//! new stream), are checked against the log: if the same command committed meanwhile, its
//! answer is returned.

use super::append::append_request;
use super::idempotency::{Ids, ids, repeat, request_digest};
use super::{CommandService, KEPT_TURNS};
use crate::error::CommandError;
use crate::reply::CommandReply;
use allweather_domain::{Command, Ctx, Decision, Principal, World, decide};
use allweather_events::StreamId;
use allweather_log::AppendError;
use std::sync::Arc;

impl CommandService {
    #[tracing::instrument(skip_all, fields(command = %name, actor = %principal.subject), err(level = "debug"))]
    pub(super) async fn run(
        &self,
        principal: &Principal,
        name: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<CommandReply, CommandError> {
        let Ids { command_id, new_id } = ids(&principal.subject, idempotency_key)?;
        let command = Command::parse(name, body)
            .map_err(|e| CommandError::field(e.field, e.message))?
            .ok_or_else(|| CommandError::NotFound(format!("there is no command named {name:?}")))?;
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
        // A repeat of the same command that races the first to a new stream is told
        // apart by the log (`CommandIdReused`) and answered with the first's result below.
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
                            return Err(CommandError::Conflict(format!(
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
            let (world, decision) = match self.decide(&command, &ctx, fresh).await {
                Ok(decided) => decided,
                Err(CommandError::Refused(_)) if !fresh => {
                    fresh = true;
                    continue;
                }
                Err(CommandError::Refused(refusal)) => {
                    // The same command may have committed meanwhile (a repeat racing the
                    // first): then it answers as the first did.
                    if repeatable && let Some(first) = log.recorded(command_id).await? {
                        return repeat(&first, digest);
                    }
                    return Err(refusal.into());
                }
                Err(e) => return Err(e),
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
                    return Ok(CommandReply::of(&outcome));
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
                    return Err(CommandError::Conflict(format!(
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
    ) -> Result<(World, Decision), CommandError> {
        self.resolve(|world| decide(world, command, ctx), fresh)
            .await
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
}
