//! The live tail: every event after a position, as it commits, exactly once, in order.
//!
//! Positions are assigned under the writer's lock and become visible only when their
//! transaction commits, so reading `position > last` in order can never skip an event
//! that commits late. The tail sleeps until the head moves (the local appender, or
//! PostgreSQL `NOTIFY` from other processes) and re-reads; a 1 s timer covers writers it
//! cannot hear (another process on the same SQLite file, a listener reconnecting).

use crate::Log;
use crate::error::LogError;
use allweather_events::Envelope;
use futures::Stream;
use std::collections::VecDeque;
use std::time::Duration;

const PAGE: u32 = 1_000;
const FALLBACK: Duration = Duration::from_secs(1);

pub(crate) fn tail(
    log: Log,
    after: u64,
) -> impl Stream<Item = Result<Envelope, LogError>> + Send + 'static {
    let wake = log.subscribe_head();
    let state = (log, after, VecDeque::<Envelope>::new(), wake, false);
    futures::stream::unfold(
        state,
        |(log, mut after, mut buffer, mut wake, failed)| async move {
            if failed {
                return None;
            }
            loop {
                if let Some(event) = buffer.pop_front() {
                    after = event.position;
                    return Some((Ok(event), (log, after, buffer, wake, false)));
                }
                // Mark the current head as seen *before* reading, so a commit that lands
                // between the read and the wait still wakes us.
                wake.borrow_and_update();
                match log.read_all(after, PAGE).await {
                    Ok(page) if !page.is_empty() => buffer.extend(page),
                    Ok(_) => {
                        let _ = tokio::time::timeout(FALLBACK, wake.changed()).await;
                    }
                    Err(e) => return Some((Err(e), (log, after, buffer, wake, true))),
                }
            }
        },
    )
}
