//! Which branches a member belonged to when: a fact counts for the branches its member
//! belonged to when it was logged. Projectors keep a member's current unit and service
//! branch with the position each began at, and each earlier one as a closed range of
//! positions.

use crate::writes::{Change, Table, Writes};

/// Closes `member`'s period in `branch` (since `from`) at `to`, in `table` (columns:
/// id, member, branch, from, to): it stays in the history.
fn close(
    w: &mut Writes,
    table: &'static Table,
    member: &str,
    branch: String,
    from: i64,
    to: i64,
) -> Result<(), sqlx::Error> {
    w.insert(
        table,
        vec![
            format!("{member}:{branch}:{from}").into(),
            member.into(),
            branch.into(),
            from.into(),
            to.into(),
        ],
    )
}

/// Which of a member's branches moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The unit branch (`unit_branch_id`, `unit_since`).
    Unit,
    /// The service branch (`service_branch_id`, `service_since`).
    Service,
}

/// Member `member` (a row of `members`) now belongs to `branch` on `side`, from
/// position `at`: the period in the branch they leave is closed into `memberships`.
pub(crate) async fn moved(
    w: &mut Writes,
    members: &'static Table,
    memberships: &'static Table,
    member: &str,
    side: Side,
    branch: String,
    at: i64,
) -> Result<(), sqlx::Error> {
    let (branch_column, since_column) = match side {
        Side::Unit => ("unit_branch_id", "unit_since"),
        Side::Service => ("service_branch_id", "service_since"),
    };
    let before = w.text(members, member, branch_column).await?;
    let since = w.int(members, member, since_column).await?;
    if let (Some(left), Some(since)) = (before.filter(|b| !b.is_empty()), since) {
        close(w, memberships, member, left, since, at)?;
    }
    w.update(
        members,
        member,
        vec![
            (branch_column, Change::Set(branch.into())),
            (since_column, Change::Set(at.into())),
        ],
    )
}

/// The branches a member belongs to now (each since a position) and belonged to before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    unit: (String, u64),
    service: Option<(String, u64)>,
    earlier: Vec<(String, u64, u64)>,
}

impl Periods {
    /// A member of `unit` since `unit_since` and of `service` since its position.
    pub fn new(unit: String, unit_since: u64, service: Option<(String, u64)>) -> Periods {
        Periods {
            unit: (unit, unit_since),
            service,
            earlier: Vec::new(),
        }
    }

    /// And of `branch` from `from` until `to`, before.
    pub fn with_earlier(&mut self, branch: String, from: u64, to: u64) {
        self.earlier.push((branch, from, to));
    }

    /// The branches the member belonged to at `position`, each once, in order.
    pub fn at(&self, position: u64) -> Vec<String> {
        let mut branches: Vec<String> = self
            .earlier
            .iter()
            .filter(|(_, from, to)| *from <= position && position < *to)
            .map(|(b, _, _)| b.clone())
            .collect();
        for (branch, since) in std::iter::once(&self.unit).chain(&self.service) {
            if position >= *since {
                branches.push(branch.clone());
            }
        }
        branches.sort();
        branches.dedup();
        branches
    }
}
