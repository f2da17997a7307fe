//! The figures a county reports (see the programme's case study): members registered,
//! person-times of service (人次) by branch, participants in each campaign, the 三九
//! households visited and the concerns raised by category, anniversaries kept, and each
//! branch's meetings and activities against what its kind must hold — each with the log
//! positions behind it. Pure functions of the scorecard's facts ([`FigureFacts`]) and the
//! year's [`Rules`], so they answer live, as of a past position, and over a period.
//!
//! A **person-time** is one member's part in one thing: a verified service entry, or an
//! attendance at a branch activity (an activity recorded before attendees were named
//! counts its headcount). Service counts for the branches the member belonged to when it
//! was logged, and for its organising branch; an attendance for the branch that held the
//! activity.

use crate::membership::Periods;
use allweather_domain::rules::Rules;
use allweather_domain::values::{BranchKind, stored_name};
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

/// The part of a year the figures cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The year.
    pub year: i32,
    /// One quarter of it (1–4).
    pub quarter: Option<u32>,
    /// One month of it (1–12).
    pub month: Option<u32>,
}

impl Period {
    /// Whether `date` falls in it.
    pub fn contains(&self, date: NaiveDate) -> bool {
        date.year() == self.year
            && self.quarter.is_none_or(|q| date.month0() / 3 + 1 == q)
            && self.month.is_none_or(|m| date.month() == m)
    }
}

/// A member as the figures need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their unit branch now.
    pub unit_branch_id: String,
    /// Their service branch now.
    pub service_branch_id: Option<String>,
    /// When they left, if they did.
    pub left_on: Option<NaiveDate>,
    /// Their branches over time.
    pub periods: Periods,
    /// When they joined.
    pub joined_on: NaiveDate,
}

/// A verified service entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Whose.
    pub member_id: String,
    /// The date of the service.
    pub date: NaiveDate,
    /// The campaign it counts for.
    pub campaign: Option<String>,
    /// The branch that organised it, where its organiser entered it.
    pub organiser: Option<String>,
    /// Where it was logged.
    pub logged: u64,
}

/// A branch meeting or activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gathering {
    /// The branch.
    pub branch_id: String,
    /// An activity (else a meeting).
    pub activity: bool,
    /// When.
    pub date: NaiveDate,
    /// Who came, by name.
    pub attendees: Vec<String>,
    /// How many came.
    pub headcount: u64,
    /// Where it was recorded.
    pub position: u64,
}

/// A concern of a 三九 household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concern {
    /// Its category.
    pub category: String,
    /// Where it was raised.
    pub raised: u64,
    /// Where it was resolved, if it was.
    pub resolved: Option<u64>,
}

/// Everything the figures are counted from, as of one position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FigureFacts {
    /// Every member, by id.
    pub members: BTreeMap<String, Person>,
    /// Every branch: name and kind.
    pub branches: BTreeMap<String, (String, String)>,
    /// Campaigns: name by id.
    pub campaigns: BTreeMap<String, String>,
    /// Verified service entries of the year.
    pub entries: Vec<Entry>,
    /// Meetings and activities of the year.
    pub gatherings: Vec<Gathering>,
    /// Anniversaries observed in the year: member and position.
    pub anniversaries: Vec<(String, u64)>,
    /// Visits to paired households in the year: household, date, position.
    pub visits: Vec<(String, NaiveDate, u64)>,
    /// Every concern raised so far.
    pub concerns: Vec<Concern>,
}

/// A count and the positions behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Count {
    /// How many.
    pub n: u64,
    /// The positions of the events behind it.
    pub evidence: Vec<u64>,
}

impl Count {
    fn add(&mut self, n: u64, at: u64) {
        self.n += n;
        self.evidence.push(at);
    }

    fn sorted(mut self) -> Count {
        self.evidence.sort_unstable();
        self.evidence.dedup();
        self
    }
}

/// One branch's figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct BranchFigures {
    /// The branch.
    pub branch_id: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its members now (unit or service branch; not those who left).
    pub members: u64,
    /// Person-times of service and activity attendance.
    pub person_times: Count,
    /// Anniversaries its unit members kept, and how many were due.
    pub anniversaries: Count,
    /// Its members due an anniversary this year.
    pub anniversaries_due: u64,
    /// Meetings held.
    pub meetings: Count,
    /// Meetings its kind must hold in the year.
    pub meetings_required: u32,
    /// Activities held.
    pub activities: Count,
    /// Activities its kind must hold in the year.
    pub activities_required: u32,
}

/// One campaign's participants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CampaignFigures {
    /// The campaign.
    pub campaign_id: String,
    /// Its name.
    pub name: String,
    /// Members who served in it.
    pub participants: u64,
    /// Their verified entries.
    pub person_times: Count,
}

/// Concerns of one category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ConcernFigures {
    /// The category.
    pub category: String,
    /// Raised so far.
    pub raised: Count,
    /// Resolved so far.
    pub resolved: Count,
    /// Still open.
    pub open: u64,
}

/// The county's figures for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Members registered (not those who left).
    pub members_registered: u64,
    /// Person-times in the whole county.
    pub person_times: Count,
    /// By branch, each branch once.
    pub branches: Vec<BranchFigures>,
    /// By campaign.
    pub campaigns: Vec<CampaignFigures>,
    /// Distinct households visited, and the visits.
    pub households_visited: u64,
    /// Every visit of the period.
    pub visits: Count,
    /// Concerns by category (as of the position; not by period).
    pub concerns: Vec<ConcernFigures>,
}

/// Counts the figures of `period` from `facts` under `rules`.
pub fn figures(facts: &FigureFacts, rules: &Rules, period: Period) -> Figures {
    let active = |p: &Person| p.left_on.is_none();
    let mut branches: BTreeMap<&str, BranchFigures> = facts
        .branches
        .iter()
        .map(|(id, (name, kind))| {
            let requirement = BranchKind::ALL
                .into_iter()
                .find(|k| stored_name(k) == *kind)
                .map(|k| rules.requirement(k));
            (
                id.as_str(),
                BranchFigures {
                    branch_id: id.clone(),
                    name: name.clone(),
                    kind: kind.clone(),
                    members: 0,
                    person_times: Count::default(),
                    anniversaries: Count::default(),
                    anniversaries_due: 0,
                    meetings: Count::default(),
                    meetings_required: requirement.map_or(rules.required_meetings, |r| r.meetings),
                    activities: Count::default(),
                    activities_required: requirement
                        .map_or(rules.required_activities, |r| r.activities),
                },
            )
        })
        .collect();
    for p in facts.members.values().filter(|p| active(p)) {
        let due = p.joined_on.year() < period.year;
        for b in std::iter::once(&p.unit_branch_id).chain(&p.service_branch_id) {
            if let Some(f) = branches.get_mut(b.as_str()) {
                f.members += 1;
                if b == &p.unit_branch_id {
                    f.anniversaries_due += u64::from(due);
                }
            }
        }
    }
    let mut county = Count::default();
    let mut campaigns: BTreeMap<&str, (BTreeSet<&str>, Count)> = BTreeMap::new();
    for e in facts.entries.iter().filter(|e| period.contains(e.date)) {
        county.add(1, e.logged);
        let mut counted: BTreeSet<String> = facts
            .members
            .get(&e.member_id)
            .map(|p| p.periods.at(e.logged))
            .unwrap_or_default()
            .into_iter()
            .collect();
        counted.extend(e.organiser.clone());
        for b in &counted {
            if let Some(f) = branches.get_mut(b.as_str()) {
                f.person_times.add(1, e.logged);
            }
        }
        if let Some(c) = e.campaign.as_deref() {
            let entry = campaigns.entry(c).or_default();
            entry.0.insert(&e.member_id);
            entry.1.add(1, e.logged);
        }
    }
    for g in facts.gatherings.iter().filter(|g| period.contains(g.date)) {
        let Some(f) = branches.get_mut(g.branch_id.as_str()) else {
            continue;
        };
        if g.activity {
            f.activities.add(1, g.position);
            let came = if g.attendees.is_empty() {
                g.headcount
            } else {
                g.attendees.len() as u64
            };
            f.person_times.add(came, g.position);
            county.add(came, g.position);
        } else {
            f.meetings.add(1, g.position);
        }
    }
    for (member, at) in &facts.anniversaries {
        let Some(p) = facts.members.get(member) else {
            continue;
        };
        for b in p.periods.at(*at) {
            if let Some(f) = branches.get_mut(b.as_str()).filter(|f| f.kind == "unit") {
                f.anniversaries.add(1, *at);
            }
        }
    }
    let mut visits = Count::default();
    let mut households = BTreeSet::new();
    for (household, date, at) in &facts.visits {
        if period.contains(*date) {
            visits.add(1, *at);
            households.insert(household);
        }
    }
    let mut concerns: BTreeMap<&str, ConcernFigures> = BTreeMap::new();
    for c in &facts.concerns {
        let f = concerns
            .entry(c.category.as_str())
            .or_insert_with(|| ConcernFigures {
                category: c.category.clone(),
                raised: Count::default(),
                resolved: Count::default(),
                open: 0,
            });
        f.raised.add(1, c.raised);
        match c.resolved {
            Some(at) => f.resolved.add(1, at),
            None => f.open += 1,
        }
    }
    Figures {
        members_registered: facts.members.values().filter(|p| active(p)).count() as u64,
        person_times: county.sorted(),
        branches: branches
            .into_values()
            .map(|mut f| {
                f.person_times = f.person_times.sorted();
                f.anniversaries = f.anniversaries.sorted();
                f.meetings = f.meetings.sorted();
                f.activities = f.activities.sorted();
                f
            })
            .collect(),
        campaigns: campaigns
            .into_iter()
            .map(|(id, (people, count))| CampaignFigures {
                campaign_id: id.to_owned(),
                name: facts.campaigns.get(id).cloned().unwrap_or_default(),
                participants: people.len() as u64,
                person_times: count.sorted(),
            })
            .collect(),
        households_visited: households.len() as u64,
        visits: visits.sorted(),
        concerns: concerns
            .into_values()
            .map(|mut f| {
                f.raised = f.raised.sorted();
                f.resolved = f.resolved.sorted();
                f
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::from_toml(include_str!("../../rules/2026.toml")).expect("the 2026 rules are valid")
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn person(unit: &str, service: &str) -> Person {
        Person {
            unit_branch_id: unit.into(),
            service_branch_id: Some(service.into()),
            left_on: None,
            periods: Periods::new(unit.into(), 1, Some((service.into(), 1))),
            joined_on: date("2010-03-01"),
        }
    }

    #[test]
    fn person_times_count_entries_and_attendances_where_they_belong_in_the_period() {
        let mut facts = FigureFacts::default();
        for (id, kind) in [("u", "unit"), ("s", "service"), ("t", "temporary")] {
            facts
                .branches
                .insert(id.into(), (id.to_uppercase(), kind.into()));
        }
        facts.members.insert("a".into(), person("u", "s"));
        facts.members.insert("b".into(), person("u", "t"));
        let mut gone = person("u", "s");
        gone.left_on = Some(date("2026-02-01"));
        facts.members.insert("c".into(), gone);
        facts
            .campaigns
            .insert("k".into(), "Reservoir resettlement".into());
        let entry =
            |member: &str, day: &str, campaign: Option<&str>, organiser: Option<&str>, at| Entry {
                member_id: member.into(),
                date: date(day),
                campaign: campaign.map(Into::into),
                organiser: organiser.map(Into::into),
                logged: at,
            };
        facts.entries = vec![
            entry("a", "2026-01-10", Some("k"), None, 10),
            entry("b", "2026-01-20", Some("k"), Some("s"), 11),
            entry("a", "2026-05-01", None, None, 12),
        ];
        facts.gatherings = vec![
            Gathering {
                branch_id: "t".into(),
                activity: true,
                date: date("2026-02-02"),
                attendees: vec!["a".into(), "b".into()],
                headcount: 2,
                position: 20,
            },
            Gathering {
                branch_id: "u".into(),
                activity: false,
                date: date("2026-02-03"),
                attendees: vec!["a".into()],
                headcount: 1,
                position: 21,
            },
        ];
        facts.anniversaries = vec![("a".into(), 30)];
        facts.visits = vec![
            ("h1".into(), date("2026-03-01"), 40),
            ("h1".into(), date("2026-03-09"), 41),
        ];
        facts.concerns = vec![
            Concern {
                category: "housing".into(),
                raised: 50,
                resolved: Some(51),
            },
            Concern {
                category: "housing".into(),
                raised: 52,
                resolved: None,
            },
        ];
        let q1 = Period {
            year: 2026,
            quarter: Some(1),
            month: None,
        };
        let f = figures(&facts, &rules(), q1);
        assert_eq!(f.members_registered, 2, "those who left are not counted");
        // Q1: two entries and two attendances.
        assert_eq!(f.person_times.n, 4);
        let branch = |id: &str| {
            f.branches
                .iter()
                .find(|b| b.branch_id == id)
                .expect("branch")
        };
        assert_eq!(branch("u").person_times.evidence, vec![10, 11]);
        // "s": a's entry (her service branch) and b's, which "s" organised.
        assert_eq!(branch("s").person_times.evidence, vec![10, 11]);
        assert_eq!(
            (branch("t").person_times.n, branch("t").activities.n),
            (3, 1)
        );
        assert_eq!(
            (branch("u").meetings.n, branch("u").meetings_required),
            (1, 12)
        );
        assert_eq!(branch("t").activities_required, 4);
        assert_eq!(
            (branch("u").anniversaries.n, branch("u").anniversaries_due),
            (1, 2)
        );
        assert_eq!(f.campaigns[0].participants, 2);
        assert_eq!(f.campaigns[0].person_times.evidence, vec![10, 11]);
        assert_eq!((f.households_visited, f.visits.n), (1, 2));
        assert_eq!(
            (
                f.concerns[0].raised.n,
                f.concerns[0].resolved.n,
                f.concerns[0].open
            ),
            (2, 1, 1)
        );
        // May is outside the first quarter, inside the year.
        let year = figures(
            &facts,
            &rules(),
            Period {
                year: 2026,
                quarter: None,
                month: None,
            },
        );
        assert_eq!(year.person_times.n, 5);
    }
}
