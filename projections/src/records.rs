//! Service records as every read model reads them: the four events that make and change a
//! record, read in one place, and its status, typed. The leaderboard, the scorecard and the
//! integrity flags each keep the columns they need in a table of their own (a projector
//! owns its tables and its checkpoint, so each rebuilds and swaps alone), filled from
//! [`change`]; their queries name a status by [`RecordStatus`], and a stored status that
//! does not parse is an error, never a default.

use allweather_domain::Event;
use allweather_domain::event::{Entry, ServiceHoursLogged};

/// Where a service record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    /// Logged, waiting for its verifier.
    Pending,
    /// Verified: it counts.
    Verified,
    /// Rejected: it never counts.
    Rejected,
}

impl RecordStatus {
    /// As stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Pending => "pending",
            RecordStatus::Verified => "verified",
            RecordStatus::Rejected => "rejected",
        }
    }

    /// A stored status; anything else means the read model is corrupt.
    pub fn parse(text: &str) -> Result<RecordStatus, sqlx::Error> {
        match text {
            "pending" => Ok(RecordStatus::Pending),
            "verified" => Ok(RecordStatus::Verified),
            "rejected" => Ok(RecordStatus::Rejected),
            other => Err(sqlx::Error::Protocol(format!(
                "a read model holds a service record of status {other:?}"
            ))),
        }
    }
}

/// What an event does to a service record (the record is the event's stream).
#[derive(Debug, Clone, Copy)]
pub enum RecordChange<'e> {
    /// A new record, pending.
    Logged(&'e ServiceHoursLogged),
    /// Verified or rejected; who decided (a member id when a member did, else the
    /// token's subject).
    Decided {
        /// Its status now.
        status: RecordStatus,
        /// Who decided.
        by: &'e str,
        /// The deciding member, when a member decided.
        by_member: Option<uuid::Uuid>,
    },
    /// Corrected: the entry as it now stands.
    Corrected(&'e Entry),
}

/// What `event` does to a service record, if anything.
pub fn change(event: &Event) -> Option<RecordChange<'_>> {
    Some(match event {
        Event::ServiceHoursLogged(e) => RecordChange::Logged(e),
        Event::ServiceHoursVerified(e) => RecordChange::Decided {
            status: RecordStatus::Verified,
            by: &e.verifier,
            by_member: e.verifier_member_id,
        },
        Event::ServiceHoursRejected(e) => RecordChange::Decided {
            status: RecordStatus::Rejected,
            by: &e.verifier,
            by_member: e.verifier_member_id,
        },
        Event::CorrectionApplied(e) => RecordChange::Corrected(&e.after),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_as_written_and_nothing_else_reads_at_all() {
        for status in [
            RecordStatus::Pending,
            RecordStatus::Verified,
            RecordStatus::Rejected,
        ] {
            assert_eq!(RecordStatus::parse(status.as_str()).ok(), Some(status));
        }
        assert!(RecordStatus::parse("approved").is_err());
        assert!(RecordStatus::parse("").is_err());
    }
}
