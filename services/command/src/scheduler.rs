//! The claim-expiry scheduler: it follows the log, knows every open claim and when it
//! runs out, and issues `ExpireClaim` for each claim past the rules' limit.
//!
//! Safe on several instances at once: the command id of an expiry is derived from the
//! wish and the position of the claim it ends, so the same expiry issued twice replays
//! instead of appending twice, and `decide` refuses to expire a claim that was already
//! released, fulfilled or expired, or has not yet run out.
//!
//! It sleeps until the next expiry, looking at the clock at least every
//! `CommandOptions::expiry_check` (30 s), and acts as the `system` principal, which the
//! rate limit never holds back.
//!
//! Quiet at the start: it expires nothing until it has followed the log to the head it
//! found when it started, so a claim released, fulfilled or expired later in the log is
//! never sent an expiry while the scheduler is still catching up; and the events waiting
//! are always followed before any expiry. Its position is on `/metrics`
//! (`allweather_expiry_scheduler_position`).

use crate::CommandService;
use allweather_domain::command::ExpireClaim;
use allweather_domain::event::{WishClaimExpired, WishFulfilled, WishReleased};
use allweather_domain::{Event, Principal};
use allweather_events::{Role, Timestamp};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

/// Wait before following the log again after an error.
const BACKOFF: Duration = Duration::from_secs(2);

/// The principal the scheduler acts as.
pub fn principal() -> Principal {
    Principal {
        subject: "scheduler".into(),
        role: Role::System,
        member_id: None,
        branch_id: None,
    }
}

/// A claim: the wish and its claimer.
type ClaimKey = (Uuid, Uuid);

/// An open claim: when it runs out, and the position of the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    expires_at: Timestamp,
    claimed_at: u64,
}

/// Runs until `shutdown` completes.
pub async fn run(service: CommandService, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut open: BTreeMap<ClaimKey, Open> = BTreeMap::new();
    let mut after = 0;
    // The head at the start: until it is followed, what is open may yet have closed.
    let caught_up_at = loop {
        match service.log().head().await {
            Ok(head) => break head.position,
            Err(e) => {
                tracing::warn!(error = %e, "the expiry scheduler cannot read the log's head; trying again");
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(BACKOFF) => {}
                }
            }
        }
    };
    loop {
        let mut tail = Box::pin(service.log().tail(after));
        loop {
            let nap = next_nap(&service, &open);
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                next = tail.next() => match next {
                    Some(Ok(envelope)) => {
                        after = envelope.position;
                        service
                            .scheduler_position()
                            .set(i64::try_from(after).unwrap_or(i64::MAX));
                        follow(&service, &mut open, &envelope);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the expiry scheduler lost the log; following again");
                        break;
                    }
                    None => break,
                },
                () = tokio::time::sleep(nap), if after >= caught_up_at => {
                    if !expire_due(&service, &mut open).await {
                        // The log is away: wait before trying again rather than spin.
                        tokio::select! {
                            () = &mut shutdown => return,
                            () = tokio::time::sleep(BACKOFF) => {}
                        }
                    }
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(BACKOFF) => {}
        }
    }
}

fn wish_id(envelope: &allweather_events::Envelope) -> Option<Uuid> {
    (envelope.stream_id.aggregate() == "wish")
        .then(|| envelope.stream_id.id().parse().ok())
        .flatten()
}

/// Notes claims opening and closing.
fn follow(
    service: &CommandService,
    open: &mut BTreeMap<ClaimKey, Open>,
    envelope: &allweather_events::Envelope,
) {
    let Some(wish) = wish_id(envelope) else {
        return;
    };
    let event = service
        .catalog()
        .decode(envelope)
        .ok()
        .and_then(|payload| Event::from_stored(&envelope.event_type, payload).ok());
    match event {
        Some(Event::WishClaimed(e)) => {
            open.insert(
                (wish, e.member_id),
                Open {
                    expires_at: e.expires_at,
                    claimed_at: envelope.position,
                },
            );
        }
        Some(Event::WishReleased(WishReleased { member_id }))
        | Some(Event::WishClaimExpired(WishClaimExpired { member_id }))
        | Some(Event::WishFulfilled(WishFulfilled { member_id, .. })) => {
            open.remove(&(wish, member_id));
        }
        Some(Event::WishCancelled(_)) => open.retain(|(w, _), _| *w != wish),
        _ => {}
    }
}

fn next_nap(service: &CommandService, open: &BTreeMap<ClaimKey, Open>) -> Duration {
    // The longest nap is bounded: the service's clock need not be the wall's.
    let longest = service.options().expiry_check;
    let now = service.now().as_micros();
    open.values()
        .map(|o| o.expires_at.as_micros())
        .min()
        .map_or(longest, |due| {
            Duration::from_micros(u64::try_from(due.saturating_sub(now)).unwrap_or(0)).min(longest)
        })
}

/// Issues `ExpireClaim` for every claim past its limit; false if one could not be issued.
async fn expire_due(service: &CommandService, open: &mut BTreeMap<ClaimKey, Open>) -> bool {
    let now = service.now();
    let due: Vec<(ClaimKey, Open)> = open
        .iter()
        .filter(|(_, o)| o.expires_at <= now)
        .map(|(k, o)| (*k, *o))
        .collect();
    for ((wish, member), claim) in due {
        let key = format!("expire-{wish}-{}", claim.claimed_at);
        let expire = ExpireClaim {
            wish_id: wish,
            member_id: Some(member),
        };
        match service.submit(&principal(), expire, Some(&key)).await {
            Ok(_) => {
                tracing::info!(%wish, %member, "released a claim past the rules' limit");
                open.remove(&(wish, member));
            }
            Err(crate::CommandError::Refused(e)) => {
                // Released, fulfilled or expired meanwhile (the log will say so), or not
                // yet due by the rules: either way nothing to do now.
                tracing::debug!(%wish, reason = %e, "claim not expired");
                if e.rule != allweather_domain::Rule::ClaimNotExpired {
                    open.remove(&(wish, member));
                }
            }
            Err(e) => {
                tracing::warn!(%wish, error = %e, "could not expire a claim; will try again");
                return false;
            }
        }
    }
    true
}
