//! The year-end assessment of each member and the ranking of the branches: pure functions
//! of a year's facts ([`Book`]) and that year's [`Rules`], with no I/O. The live read
//! model, the queries *as of* a position or a date and the annual reassessment all judge
//! through these two functions, so a rule of judgement lives here and nowhere else.
//!
//! **A member's outcome** is the rating their verified service points reach under the
//! rules' thresholds, lowered to the card's rating once both sides of the dual card are
//! signed, and held at *basically qualified* at best while the year has no community
//! feedback or a due anniversary was not observed. It is final (`complete`) once the card
//! is complete.
//!
//! **A branch's score** (0–100) is the sum of the rules' ranking weights, each times how
//! far the branch reached on that criterion (0–1): hours per member and wishes fulfilled
//! against the best branch, the share of members who served and of completed cards,
//! meetings and activities against the numbers required, the quiz score out of 100. A
//! branch's members are those whose unit or service branch it is. Ranks follow the score,
//! ties by branch id.

use allweather_domain::rules::Rules;
use allweather_domain::values::{Category, Rating, Side};
use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

/// What a year's judgement stands on: members, branches and the facts of that year, each
/// with the log positions that show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    /// The year.
    pub year: i32,
    /// Every member, by id.
    pub members: BTreeMap<String, MemberFacts>,
    /// Every branch, by id.
    pub branches: BTreeMap<String, BranchFacts>,
}

/// A member and their facts of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    /// Their name.
    pub name: String,
    /// Their unit branch.
    pub unit_branch_id: String,
    /// Their service branch, once assigned.
    pub service_branch_id: Option<String>,
    /// When they joined.
    pub joined_on: NaiveDate,
    /// Their verified service records of the year.
    pub records: Vec<Record>,
    /// Where their anniversary was observed.
    pub anniversary: Option<u64>,
    /// Community feedback: (quarter, position).
    pub feedback: Vec<(u32, u64)>,
    /// Signed sides of the card: (side, rating, position).
    pub sides: Vec<(Side, Rating, u64)>,
    /// Where wishes they fulfilled were confirmed.
    pub wishes: Vec<u64>,
    /// Where their visits to paired households were recorded.
    pub visits: Vec<u64>,
}

impl MemberFacts {
    /// A member with no facts yet.
    pub fn new(name: String, unit_branch_id: String, joined_on: NaiveDate) -> MemberFacts {
        MemberFacts {
            name,
            unit_branch_id,
            service_branch_id: None,
            joined_on,
            records: Vec::new(),
            anniversary: None,
            feedback: Vec::new(),
            sides: Vec::new(),
            wishes: Vec::new(),
            visits: Vec::new(),
        }
    }
}

/// A verified service record as it stands (after any correction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its category.
    pub category: Category,
    /// Its minutes.
    pub minutes: u32,
    /// The positions of its logging, verification and corrections.
    pub evidence: Vec<u64>,
}

/// A branch and its facts of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchFacts {
    /// Its name.
    pub name: String,
    /// `unit`, `service` or `temporary`.
    pub kind: String,
    /// Where its meetings of the year were recorded.
    pub meetings: Vec<u64>,
    /// Where its activities of the year were recorded.
    pub activities: Vec<u64>,
    /// Its quiz score and where it was recorded.
    pub quiz: Option<(u32, u64)>,
}

impl BranchFacts {
    /// A branch with no facts yet.
    pub fn new(name: String, kind: String) -> BranchFacts {
        BranchFacts {
            name,
            kind,
            meetings: Vec::new(),
            activities: Vec::new(),
            quiz: None,
        }
    }
}

/// What a criterion measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A quantity in hundredths (points, hours), shown with two decimals.
    Hundredths(u64),
    /// A count.
    Count(u64),
    /// A share in basis points (10,000 = all), shown as a fraction.
    Share(u64),
    /// A rating, if given.
    Rating(Option<Rating>),
}

impl Measure {
    /// As JSON: a number, or the rating's name (null if none).
    pub fn to_json(self) -> Value {
        match self {
            Measure::Hundredths(h) => json!(h as f64 / 100.0),
            Measure::Count(n) => json!(n),
            Measure::Share(bp) => json!(bp as f64 / 10_000.0),
            Measure::Rating(r) => r.map_or(Value::Null, |r| json!(r)),
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Measure::Hundredths(h) => write!(f, "{}.{:02}", h / 100, h % 100),
            Measure::Count(n) => write!(f, "{n}"),
            Measure::Share(bp) => write!(f, "{}.{:02}%", bp / 100, bp % 100),
            Measure::Rating(Some(r)) => write!(f, "{}", rating_name(r)),
            Measure::Rating(None) => write!(f, "none"),
        }
    }
}

/// A rating's stored name (`basically_qualified`).
pub fn rating_name(rating: Rating) -> String {
    allweather_domain::values::stored_name(&rating)
}

/// One criterion of an assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// Its name.
    pub name: &'static str,
    /// What the member reached.
    pub value: Measure,
    /// What the rules require, if anything (else it only informs).
    pub required: Option<Measure>,
    /// Whether it is met (none when nothing is required).
    pub passed: Option<bool>,
    /// The positions of the events that justify the value.
    pub evidence: Vec<u64>,
}

/// A member's assessment for a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The member.
    pub member_id: String,
    /// Their name.
    pub name: String,
    /// The outcome.
    pub outcome: Rating,
    /// Whether both sides of the card are signed (the outcome is then final).
    pub complete: bool,
    /// Every criterion.
    pub criteria: Vec<Criterion>,
}

fn order(r: Rating) -> u8 {
    match r {
        Rating::Excellent => 3,
        Rating::Qualified => 2,
        Rating::BasicallyQualified => 1,
        Rating::Unqualified => 0,
    }
}

fn lower(a: Rating, b: Rating) -> Rating {
    if order(a) <= order(b) { a } else { b }
}

/// The rating `points` (hundredths) reach under `rules`.
fn points_rating(rules: &Rules, points: u64) -> Rating {
    let [excellent, qualified, basically] = rules.rating_thresholds_hundredths.map(u64::from);
    if points >= excellent {
        Rating::Excellent
    } else if points >= qualified {
        Rating::Qualified
    } else if points >= basically {
        Rating::BasicallyQualified
    } else {
        Rating::Unqualified
    }
}

fn met(value: u64, required: u64) -> Option<bool> {
    Some(value >= required)
}

/// Judges `member` for `year` under `rules`.
pub fn assess(year: i32, member_id: &str, member: &MemberFacts, rules: &Rules) -> Assessment {
    let points: u64 = member
        .records
        .iter()
        .map(|r| rules.points_hundredths(r.category, r.minutes))
        .sum();
    let threshold = u64::from(rules.annual_threshold_hundredths);
    let record_evidence = member
        .records
        .iter()
        .flat_map(|r| r.evidence.iter().copied());
    let anniversary_due = u64::from(member.joined_on.year() < year);
    let anniversary = u64::from(member.anniversary.is_some());
    let quarters: BTreeSet<u32> = member.feedback.iter().map(|(q, _)| *q).collect();
    let sides: BTreeMap<&'static str, Rating> = member
        .sides
        .iter()
        .map(|(side, rating, _)| {
            let side = match side {
                Side::Community => "community",
                Side::Unit => "unit",
            };
            (side, *rating)
        })
        .collect();
    let complete = sides.len() == 2;
    let card_rating = complete
        .then(|| sides.values().copied().reduce(lower))
        .flatten();

    let by_points = points_rating(rules, points);
    let mut outcome = by_points;
    if let Some(card) = card_rating {
        outcome = lower(outcome, card);
    }
    if quarters.is_empty() || anniversary < anniversary_due {
        outcome = lower(outcome, Rating::BasicallyQualified);
    }
    let evidence = |xs: &[(u32, u64)]| xs.iter().map(|(_, p)| *p).collect::<Vec<_>>();
    let criteria = vec![
        Criterion {
            name: "service_points",
            value: Measure::Hundredths(points),
            required: Some(Measure::Hundredths(threshold)),
            passed: met(points, threshold),
            evidence: sorted(record_evidence),
        },
        Criterion {
            name: "points_rating",
            value: Measure::Rating(Some(by_points)),
            required: None,
            passed: None,
            evidence: Vec::new(),
        },
        Criterion {
            name: "anniversary",
            value: Measure::Count(anniversary),
            required: Some(Measure::Count(anniversary_due)),
            passed: met(anniversary, anniversary_due),
            evidence: member.anniversary.into_iter().collect(),
        },
        Criterion {
            name: "community_feedback",
            value: Measure::Count(quarters.len() as u64),
            required: Some(Measure::Count(1)),
            passed: met(quarters.len() as u64, 1),
            evidence: sorted(evidence(&member.feedback)),
        },
        Criterion {
            name: "dual_card",
            value: Measure::Count(sides.len() as u64),
            required: Some(Measure::Count(2)),
            passed: met(sides.len() as u64, 2),
            evidence: sorted(member.sides.iter().map(|(_, _, p)| *p)),
        },
        Criterion {
            name: "card_rating",
            value: Measure::Rating(card_rating),
            required: None,
            passed: None,
            evidence: sorted(member.sides.iter().map(|(_, _, p)| *p)),
        },
        Criterion {
            name: "wishes_fulfilled",
            value: Measure::Count(member.wishes.len() as u64),
            required: None,
            passed: None,
            evidence: sorted(member.wishes.iter().copied()),
        },
        Criterion {
            name: "household_visits",
            value: Measure::Count(member.visits.len() as u64),
            required: None,
            passed: None,
            evidence: sorted(member.visits.iter().copied()),
        },
    ];
    Assessment {
        member_id: member_id.to_owned(),
        name: member.name.clone(),
        outcome,
        complete,
        criteria,
    }
}

fn sorted(positions: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let set: BTreeSet<u64> = positions.into_iter().collect();
    set.into_iter().collect()
}

/// Every member's assessment for the book's year, by member id.
pub fn assess_all(book: &Book, rules: &Rules) -> Vec<Assessment> {
    book.members
        .iter()
        .map(|(id, m)| assess(book.year, id, m, rules))
        .collect()
}

/// One criterion of a branch's score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Its name.
    pub name: &'static str,
    /// What the branch reached.
    pub value: Measure,
    /// What the rules require, if they set a number.
    pub required: Option<Measure>,
    /// How far the branch reached (basis points, 10,000 = fully).
    pub reached: u64,
    /// Its weight in the score, in percent.
    pub weight: u32,
}

/// A branch's place in the year's ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// 1 for the first.
    pub rank: u32,
    /// The branch.
    pub branch_id: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// How many members it has.
    pub members: u64,
    /// The score, in hundredths (10,000 = 100).
    pub score: u64,
    /// What the score is made of.
    pub criteria: Vec<Component>,
}

/// Basis points of `part` out of `whole` (0 when `whole` is 0), at most 10,000.
fn share(part: u64, whole: u64) -> u64 {
    (part.min(whole) * 10_000).checked_div(whole).unwrap_or(0)
}

struct Tally {
    members: u64,
    minutes: u64,
    serving: u64,
    cards: u64,
    wishes: u64,
}

/// The ranking of the book's branches (of `kind`, if given) under `rules`.
pub fn rank(book: &Book, rules: &Rules, kind: Option<&str>) -> Vec<Standing> {
    let mut tallies: BTreeMap<&str, Tally> = book
        .branches
        .iter()
        .filter(|(_, b)| kind.is_none_or(|k| b.kind == k))
        .map(|(id, _)| {
            let tally = Tally {
                members: 0,
                minutes: 0,
                serving: 0,
                cards: 0,
                wishes: 0,
            };
            (id.as_str(), tally)
        })
        .collect();
    for member in book.members.values() {
        let minutes: u64 = member.records.iter().map(|r| u64::from(r.minutes)).sum();
        let sides: HashSet<Side> = member.sides.iter().map(|(s, _, _)| *s).collect();
        let branches: BTreeSet<&str> = std::iter::once(member.unit_branch_id.as_str())
            .chain(member.service_branch_id.as_deref())
            .collect();
        for branch in branches {
            if let Some(t) = tallies.get_mut(branch) {
                t.members += 1;
                t.minutes += minutes;
                t.serving += u64::from(minutes > 0);
                t.cards += u64::from(sides.len() == 2);
                t.wishes += member.wishes.len() as u64;
            }
        }
    }
    // Hundredths of an hour per member.
    let per_member = |t: &Tally| (t.minutes * 100 / 60).checked_div(t.members).unwrap_or(0);
    let best_hours = tallies.values().map(per_member).max().unwrap_or(0);
    let best_wishes = tallies.values().map(|t| t.wishes).max().unwrap_or(0);
    let w = &rules.ranking_weights;
    let required_meetings = u64::from(rules.required_meetings);
    let required_activities = u64::from(rules.required_activities);
    let mut standings: Vec<Standing> = tallies
        .iter()
        .filter_map(|(id, t)| {
            let branch = book.branches.get(*id)?;
            let meetings = branch.meetings.len() as u64;
            let activities = branch.activities.len() as u64;
            let quiz = branch.quiz.map_or(0, |(s, _)| u64::from(s));
            let hours = per_member(t);
            let criteria = vec![
                Component {
                    name: "hours_per_member",
                    value: Measure::Hundredths(hours),
                    required: None,
                    reached: share(hours, best_hours),
                    weight: w.hours_per_member,
                },
                Component {
                    name: "participation",
                    value: Measure::Share(share(t.serving, t.members)),
                    required: None,
                    reached: share(t.serving, t.members),
                    weight: w.participation,
                },
                Component {
                    name: "wishes_fulfilled",
                    value: Measure::Count(t.wishes),
                    required: None,
                    reached: share(t.wishes, best_wishes),
                    weight: w.wishes_fulfilled,
                },
                Component {
                    name: "meetings",
                    value: Measure::Count(meetings),
                    required: Some(Measure::Count(required_meetings)),
                    // Meetings and activities share the meetings weight equally.
                    reached: (share_or_full(meetings, required_meetings)
                        + share_or_full(activities, required_activities))
                        / 2,
                    weight: w.meetings,
                },
                Component {
                    name: "activities",
                    value: Measure::Count(activities),
                    required: Some(Measure::Count(required_activities)),
                    reached: share_or_full(activities, required_activities),
                    weight: 0,
                },
                Component {
                    name: "quiz",
                    value: Measure::Count(quiz),
                    required: None,
                    reached: share(quiz, 100),
                    weight: w.quiz,
                },
                Component {
                    name: "card_completion",
                    value: Measure::Share(share(t.cards, t.members)),
                    required: None,
                    reached: share(t.cards, t.members),
                    weight: w.card_completion,
                },
            ];
            let score = criteria
                .iter()
                .map(|c| u64::from(c.weight) * c.reached / 100)
                .sum();
            Some(Standing {
                rank: 0,
                branch_id: (*id).to_owned(),
                name: branch.name.clone(),
                kind: branch.kind.clone(),
                members: t.members,
                score,
                criteria,
            })
        })
        .collect();
    standings.sort_by(|a, b| b.score.cmp(&a.score).then(a.branch_id.cmp(&b.branch_id)));
    for (s, rank) in standings.iter_mut().zip(1..) {
        s.rank = rank;
    }
    standings
}

/// Like [`share`], but a requirement of nothing is fully met.
fn share_or_full(part: u64, required: u64) -> u64 {
    if required == 0 {
        10_000
    } else {
        share(part, required)
    }
}

/// A member whose outcome, or a branch whose rank, differs under other rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `member` or `branch`.
    pub kind: &'static str,
    /// The member's or branch's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// The outcome or rank under the rules in force.
    pub before: String,
    /// The outcome or rank under the other rules.
    pub after: String,
    /// Each criterion that differs: its name, old and new value.
    pub criteria: Vec<(&'static str, String, String)>,
}

/// What judging a year under other rules changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Members judged.
    pub members: usize,
    /// Branches ranked.
    pub branches: usize,
    /// Members whose outcome changed.
    pub members_changed: usize,
    /// Branches whose rank changed.
    pub branches_changed: usize,
    /// Every change, members first, each kind by id.
    pub changes: Vec<Change>,
}

fn describe(c: &Criterion) -> String {
    let verdict = match c.passed {
        Some(true) => ", met",
        Some(false) => ", not met",
        None => "",
    };
    match c.required {
        Some(r) => format!("{} of {r}{verdict}", c.value),
        None => c.value.to_string(),
    }
}

fn describe_component(c: &Component) -> String {
    format!(
        "{} (reached {}, weight {})",
        c.value,
        Measure::Share(c.reached),
        c.weight
    )
}

fn standing(s: &Standing) -> String {
    format!("rank {} (score {})", s.rank, Measure::Hundredths(s.score))
}

/// Judges the book's year under the rules `in_force` and under `proposed`, and names
/// every member whose outcome and every branch whose rank differs, with the criteria
/// that differ.
pub fn compare(book: &Book, in_force: &Rules, proposed: &Rules) -> Comparison {
    let mut changes = Vec::new();
    for (id, member) in &book.members {
        let (old, new) = (
            assess(book.year, id, member, in_force),
            assess(book.year, id, member, proposed),
        );
        if old.outcome != new.outcome {
            let criteria = old
                .criteria
                .iter()
                .zip(&new.criteria)
                .filter(|(a, b)| (a.value, a.required, a.passed) != (b.value, b.required, b.passed))
                .map(|(a, b)| (a.name, describe(a), describe(b)))
                .collect();
            changes.push(Change {
                kind: "member",
                id: id.clone(),
                name: member.name.clone(),
                before: rating_name(old.outcome),
                after: rating_name(new.outcome),
                criteria,
            });
        }
    }
    let members_changed = changes.len();
    let old_ranking = rank(book, in_force, None);
    let new_ranking: BTreeMap<String, Standing> = rank(book, proposed, None)
        .into_iter()
        .map(|s| (s.branch_id.clone(), s))
        .collect();
    let mut branch_changes: Vec<Change> = old_ranking
        .iter()
        .filter_map(|old| {
            let new = new_ranking.get(&old.branch_id)?;
            if old.rank == new.rank {
                return None;
            }
            let mut criteria: Vec<(&'static str, String, String)> = old
                .criteria
                .iter()
                .zip(&new.criteria)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| (a.name, describe_component(a), describe_component(b)))
                .collect();
            if old.score != new.score {
                criteria.push((
                    "score",
                    Measure::Hundredths(old.score).to_string(),
                    Measure::Hundredths(new.score).to_string(),
                ));
            }
            Some(Change {
                kind: "branch",
                id: old.branch_id.clone(),
                name: old.name.clone(),
                before: standing(old),
                after: standing(new),
                criteria,
            })
        })
        .collect();
    branch_changes.sort_by(|a, b| a.id.cmp(&b.id));
    let branches_changed = branch_changes.len();
    changes.extend(branch_changes);
    Comparison {
        members: book.members.len(),
        branches: old_ranking.len(),
        members_changed,
        branches_changed,
        changes,
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

    fn member(unit: &str) -> MemberFacts {
        MemberFacts::new("A".into(), unit.into(), date("2010-03-01"))
    }

    fn record(category: Category, minutes: u32, at: u64) -> Record {
        Record {
            category,
            minutes,
            evidence: vec![at, at + 1],
        }
    }

    fn criterion<'a>(a: &'a Assessment, name: &str) -> &'a Criterion {
        a.criteria
            .iter()
            .find(|c| c.name == name)
            .expect("the criterion is listed")
    }

    #[test]
    fn points_decide_the_rating_and_the_records_are_the_evidence() {
        let mut m = member("u");
        // 20 h of central work at 2 points an hour: 40 points, the qualified threshold.
        m.records.push(record(Category::CentralWork, 1200, 10));
        m.feedback.push((1, 20));
        m.anniversary = Some(30);
        let a = assess(2026, "m", &m, &rules());
        assert_eq!(a.outcome, Rating::Qualified);
        assert!(!a.complete);
        let points = criterion(&a, "service_points");
        assert_eq!(points.value, Measure::Hundredths(4000));
        assert_eq!(points.passed, Some(true));
        assert_eq!(points.evidence, vec![10, 11]);
    }

    #[test]
    fn no_feedback_or_a_missed_anniversary_holds_the_outcome_at_basically_qualified() {
        let mut m = member("u");
        m.records.push(record(Category::CentralWork, 3600, 10));
        m.anniversary = Some(30);
        let a = assess(2026, "m", &m, &rules());
        assert_eq!(a.outcome, Rating::BasicallyQualified);
        assert_eq!(criterion(&a, "community_feedback").passed, Some(false));

        m.feedback.push((2, 40));
        m.anniversary = None;
        let a = assess(2026, "m", &m, &rules());
        assert_eq!(a.outcome, Rating::BasicallyQualified);
        assert_eq!(criterion(&a, "anniversary").passed, Some(false));

        // Joined this year: no anniversary is due yet.
        m.joined_on = date("2026-02-01");
        let a = assess(2026, "m", &m, &rules());
        assert_eq!(a.outcome, Rating::Excellent);
        assert_eq!(criterion(&a, "anniversary").passed, Some(true));
    }

    #[test]
    fn a_complete_card_caps_the_outcome_at_its_lower_side() {
        let mut m = member("u");
        m.records.push(record(Category::CentralWork, 3600, 10));
        m.feedback.push((1, 20));
        m.anniversary = Some(30);
        m.sides.push((Side::Unit, Rating::Excellent, 50));
        let a = assess(2026, "m", &m, &rules());
        assert_eq!((a.outcome, a.complete), (Rating::Excellent, false));
        m.sides.push((Side::Community, Rating::Qualified, 60));
        let a = assess(2026, "m", &m, &rules());
        assert_eq!((a.outcome, a.complete), (Rating::Qualified, true));
        assert_eq!(
            criterion(&a, "card_rating").value,
            Measure::Rating(Some(Rating::Qualified))
        );
        assert_eq!(criterion(&a, "dual_card").evidence, vec![50, 60]);
    }

    #[test]
    fn branches_rank_by_weighted_score_then_id() {
        let mut book = Book {
            year: 2026,
            ..Book::default()
        };
        for id in ["b1", "b2", "b3"] {
            book.branches
                .insert(id.into(), BranchFacts::new(id.into(), "unit".into()));
        }
        let mut busy = member("b2");
        busy.records.push(record(Category::Cleanup, 600, 1));
        book.members.insert("m1".into(), busy);
        book.members.insert("m2".into(), member("b2"));
        book.members.insert("m3".into(), member("b1"));
        if let Some(b) = book.branches.get_mut("b3") {
            b.quiz = Some((100, 9));
        }
        let rules = rules();
        let standings = rank(&book, &rules, None);
        let order: Vec<&str> = standings.iter().map(|s| s.branch_id.as_str()).collect();
        // b2: all of the hours weight (25) and half of participation (10) = 35;
        // b3: the quiz weight (15); b1: nothing.
        assert_eq!(order, ["b2", "b3", "b1"]);
        assert_eq!(standings[0].score, 3500);
        assert_eq!(standings[1].score, 1500);
        assert_eq!(standings[0].members, 2);
        let ranks: Vec<u32> = standings.iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [1, 2, 3]);
        // The same facts under other weights rank otherwise.
        let mut quiz_first = rules.clone();
        quiz_first.ranking_weights.quiz = 60;
        quiz_first.ranking_weights.hours_per_member = 0;
        quiz_first.ranking_weights.participation = 0;
        let order: Vec<String> = rank(&book, &quiz_first, None)
            .into_iter()
            .map(|s| s.branch_id)
            .collect();
        assert_eq!(order, ["b3", "b1", "b2"].map(String::from));
    }

    #[test]
    fn the_rules_in_force_change_nothing_and_other_rules_name_what_they_change() {
        let mut book = Book {
            year: 2026,
            ..Book::default()
        };
        book.branches
            .insert("b1".into(), BranchFacts::new("One".into(), "unit".into()));
        book.branches
            .insert("b2".into(), BranchFacts::new("Two".into(), "unit".into()));
        if let Some(b) = book.branches.get_mut("b1") {
            b.quiz = Some((80, 3));
        }
        let mut served = member("b2");
        served.records.push(record(Category::Cleanup, 45 * 60, 1));
        served.feedback.push((1, 5));
        served.anniversary = Some(6);
        book.members.insert("m1".into(), served);
        let rules = rules();
        let same = compare(&book, &rules, &rules);
        assert_eq!((same.members, same.branches), (1, 2));
        assert!(same.changes.is_empty(), "{:?}", same.changes);

        // 45 points: qualified at a threshold of 40, basically qualified at 50; and a
        // ranking on the quiz alone puts b1 first.
        let mut stricter = rules.clone();
        stricter.rating_thresholds_hundredths = [7000, 5000, 2000];
        stricter.annual_threshold_hundredths = 5000;
        stricter.ranking_weights.quiz = 100;
        stricter.ranking_weights.hours_per_member = 0;
        stricter.ranking_weights.participation = 0;
        let c = compare(&book, &rules, &stricter);
        assert_eq!((c.members_changed, c.branches_changed), (1, 2));
        let m = &c.changes[0];
        assert_eq!(
            (m.kind, m.before.as_str(), m.after.as_str()),
            ("member", "qualified", "basically_qualified")
        );
        assert_eq!(
            m.criteria,
            [
                (
                    "service_points",
                    "45.00 of 40.00, met".to_owned(),
                    "45.00 of 50.00, not met".to_owned()
                ),
                (
                    "points_rating",
                    "qualified".to_owned(),
                    "basically_qualified".to_owned()
                ),
            ]
        );
        let b1 = &c.changes[1];
        assert_eq!(
            (b1.id.as_str(), b1.before.as_str()),
            ("b1", "rank 2 (score 12.00)")
        );
        assert_eq!(b1.after, "rank 1 (score 80.00)");
        assert!(
            b1.criteria.iter().any(|(name, _, _)| *name == "quiz"),
            "{:?}",
            b1.criteria
        );
    }
}
