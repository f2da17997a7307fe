//! The wish board: every wish with where it stands, its places taken and when it moved,
//! and the time to claim and to fulfil as distributions (median, 90th percentile) by
//! category and month.
//! The beneficiary is never copied here: the board is public, the person in need is not.
//!
//! A wish is `open` while places remain, `claimed`, `fulfilled`, `confirmed` or
//! `cancelled`; the board keeps its title, category, claimers, and when it was published,
//! first claimed and fulfilled. `GET /api/v1/wishes` lists wishes newest first (by
//! `status`, with `limit` and `min_position`); `GET /api/v1/wishes/timings?year=Y` gives
//! the time from publication to first claim and to fulfilment, in minutes, as count,
//! median and 90th percentile (nearest rank) per category and month of publication.

use crate::runner::Projector;
use crate::store::dump_rows;
use crate::writes::Writes;
use allweather_domain::Event;
use allweather_domain::values::stored_name;
use allweather_events::Envelope;
use chrono::Datelike;
use futures::future::BoxFuture;
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

/// The projector's name.
pub const NAME: &str = "wishes";

const SCHEMA: &[&str] = &["CREATE TABLE IF NOT EXISTS wb_wishes (
        wish_id         TEXT PRIMARY KEY,
        title           TEXT NOT NULL,
        category        TEXT NOT NULL,
        origin          TEXT NOT NULL,
        status          TEXT NOT NULL,
        month           TEXT NOT NULL,
        published_at_us BIGINT NOT NULL,
        claimed_by      TEXT,
        claimed_at_us   BIGINT,
        first_claim_us  BIGINT,
        fulfilled_at_us BIGINT,
        deadline_us     BIGINT NOT NULL,
        volunteers      BIGINT NOT NULL,
        claims          BIGINT NOT NULL,
        fulfilled       BIGINT NOT NULL,
        confirmed       BIGINT NOT NULL
    )"];

/// Where a wish stands, from its places: open while a place is free, claimed while every
/// place is taken and some claim is open, fulfilled once every taken place is delivered,
/// confirmed once every place is confirmed. (A micro-wish has one place.)
const RESTATUS: &str = "UPDATE wb_wishes SET status = CASE
        WHEN status = 'cancelled' THEN 'cancelled'
        WHEN confirmed >= volunteers THEN 'confirmed'
        WHEN claims + fulfilled + confirmed < volunteers THEN 'open'
        WHEN claims > 0 THEN 'claimed'
        ELSE 'fulfilled' END
     WHERE wish_id = $1";

/// The wish board projector.
#[derive(Debug, Clone, Copy, Default)]
pub struct WishBoard;

impl Projector for WishBoard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }

    fn apply<'c>(
        &'c self,
        w: &'c mut Writes,
        envelope: &'c Envelope,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            // A few hundred wishes a year: a statement each, straight to the batch.
            let conn = w.conn().await?;
            let id = envelope.stream_id.id();
            let at = envelope.occurred_at.as_micros();
            let set = |sql: &'static str| sqlx::query(sql).bind(id.to_owned());
            match event {
                Event::WishPublished(e) => {
                    // The county's month, not UTC's: a wish published early on the 1st
                    // belongs to that month.
                    let month = e.published_on;
                    sqlx::query(
                        "INSERT INTO wb_wishes (wish_id, title, category, origin, status, month, published_at_us, deadline_us,
                                                volunteers, claims, fulfilled, confirmed)
                         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, 0, 0, 0)",
                    )
                    .bind(id)
                    .bind(&e.title)
                    .bind(stored_name(&e.category))
                    .bind(stored_name(&e.origin))
                    .bind(format!("{:04}-{:02}", month.year(), month.month()))
                    .bind(at)
                    .bind(e.deadline.as_micros())
                    .bind(i64::from(e.volunteers))
                    .execute(&mut *conn)
                    .await?;
                    return Ok(());
                }
                Event::WishClaimed(e) => {
                    // Who holds the claim is shown for a wish of one place.
                    set("UPDATE wb_wishes SET claims = claims + 1,
                         claimed_by = CASE WHEN volunteers = 1 THEN $2 ELSE NULL END, claimed_at_us = $3,
                         first_claim_us = COALESCE(first_claim_us, $3) WHERE wish_id = $1")
                    .bind(e.member_id.to_string())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
                Event::WishReleased(_) | Event::WishClaimExpired(_) => {
                    set("UPDATE wb_wishes SET claims = claims - 1, claimed_by = NULL, claimed_at_us = NULL WHERE wish_id = $1")
                        .execute(&mut *conn)
                        .await?;
                }
                Event::WishFulfilled(_) => {
                    set("UPDATE wb_wishes SET claims = claims - 1, fulfilled = fulfilled + 1, fulfilled_at_us = $2
                         WHERE wish_id = $1")
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
                Event::WishConfirmed(_) => {
                    set("UPDATE wb_wishes SET fulfilled = fulfilled - 1, confirmed = confirmed + 1 WHERE wish_id = $1")
                        .execute(&mut *conn)
                        .await?;
                }
                Event::WishCancelled(_) => {
                    set("UPDATE wb_wishes SET status = 'cancelled', claims = 0, claimed_by = NULL, claimed_at_us = NULL
                         WHERE wish_id = $1")
                    .execute(&mut *conn)
                    .await?;
                }
                _ => return Ok(()),
            }
            set(RESTATUS).execute(conn).await?;
            Ok(())
        })
    }

    fn dump<'c>(&'c self, pool: &'c AnyPool) -> BoxFuture<'c, Result<Vec<String>, sqlx::Error>> {
        Box::pin(dump_rows(
            pool,
            "wb_wishes",
                "SELECT wish_id, title, category, origin, status, month, CAST(published_at_us AS TEXT),
                        COALESCE(claimed_by, ''), COALESCE(CAST(claimed_at_us AS TEXT), ''),
                        COALESCE(CAST(first_claim_us AS TEXT), ''), COALESCE(CAST(fulfilled_at_us AS TEXT), ''),
                        CAST(deadline_us AS TEXT), CAST(volunteers AS TEXT), CAST(claims AS TEXT),
                        CAST(fulfilled AS TEXT), CAST(confirmed AS TEXT)
                   FROM wb_wishes ORDER BY wish_id",
        ))
    }
}

/// One wish on the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WishLine {
    /// The wish.
    pub wish_id: String,
    /// What is wished for.
    pub title: String,
    /// Its category.
    pub category: String,
    /// `open`, `claimed`, `fulfilled`, `confirmed` or `cancelled`.
    pub status: String,
    /// The member holding the claim, while a wish of one place is claimed.
    pub claimed_by: Option<String>,
    /// How many members it takes.
    pub volunteers: i64,
    /// Places taken: open claims, and parts fulfilled or confirmed.
    pub taken: i64,
    /// When it was published (µs).
    pub published_at_us: i64,
    /// When the current claim was taken (µs).
    pub claimed_at_us: Option<i64>,
}

/// Wishes with `status` (all when `None`), newest first, at most `limit`.
pub async fn board(
    pool: &AnyPool,
    status: Option<&str>,
    limit: u32,
) -> Result<Vec<WishLine>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT wish_id, title, category, status, claimed_by, published_at_us, claimed_at_us,
                volunteers, claims + fulfilled + confirmed FROM wb_wishes
          WHERE ($1 = '' OR status = $1) ORDER BY published_at_us DESC, wish_id LIMIT $2",
    )
    .bind(status.unwrap_or_default().to_owned())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WishLine {
                wish_id: r.try_get(0)?,
                title: r.try_get(1)?,
                category: r.try_get(2)?,
                status: r.try_get(3)?,
                claimed_by: r.try_get(4)?,
                published_at_us: r.try_get(5)?,
                claimed_at_us: r.try_get(6)?,
                volunteers: r.try_get(7)?,
                taken: r.try_get(8)?,
            })
        })
        .collect()
}

/// A distribution of durations, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Distribution {
    /// How many.
    pub count: usize,
    /// The median (nearest rank).
    pub median_minutes: i64,
    /// The 90th percentile (nearest rank).
    pub p90_minutes: i64,
}

impl Distribution {
    fn of(mut minutes: Vec<i64>) -> Distribution {
        minutes.sort_unstable();
        let rank = |q: f64| {
            // Nearest rank: the smallest value with at least q of the values at or below it.
            let n = minutes.len();
            let k = ((q * n as f64).ceil() as usize).clamp(1, n);
            minutes[k - 1]
        };
        if minutes.is_empty() {
            return Distribution::default();
        }
        Distribution {
            count: minutes.len(),
            median_minutes: rank(0.5),
            p90_minutes: rank(0.9),
        }
    }
}

/// Time to claim and to fulfil, per category and month of publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// The category.
    pub category: String,
    /// `YYYY-MM` of publication.
    pub month: String,
    /// Publication to first claim.
    pub to_claim: Distribution,
    /// Publication to fulfilment.
    pub to_fulfil: Distribution,
}

/// The timings of every category and month with wishes published in `year`.
pub async fn timings(pool: &AnyPool, year: i32) -> Result<Vec<Timing>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT category, month, published_at_us, first_claim_us, fulfilled_at_us FROM wb_wishes WHERE month LIKE $1",
    )
    .bind(format!("{year:04}-%"))
    .fetch_all(pool)
    .await?;
    let mut groups: BTreeMap<(String, String), (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for r in &rows {
        let published: i64 = r.try_get(2)?;
        let group = groups.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
        if let Some(claimed) = r.try_get::<Option<i64>, _>(3)? {
            group.0.push((claimed - published) / 60_000_000);
        }
        if let Some(fulfilled) = r.try_get::<Option<i64>, _>(4)? {
            group.1.push((fulfilled - published) / 60_000_000);
        }
    }
    Ok(groups
        .into_iter()
        .map(|((category, month), (claim, fulfil))| Timing {
            category,
            month,
            to_claim: Distribution::of(claim),
            to_fulfil: Distribution::of(fulfil),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_p90_are_nearest_ranks() {
        let d = Distribution::of((1..=10).rev().collect());
        assert_eq!((d.count, d.median_minutes, d.p90_minutes), (10, 5, 9));
        assert_eq!(
            Distribution::of(vec![7]),
            Distribution {
                count: 1,
                median_minutes: 7,
                p90_minutes: 7
            }
        );
        assert_eq!(Distribution::of(vec![]), Distribution::default());
    }
}
