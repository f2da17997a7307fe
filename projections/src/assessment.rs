//! The year-end assessment of each member and the ranking of the branches: pure functions
//! of a year's facts ([`Book`]) and that year's [`Rules`], with no I/O. The live read
//! model, the queries *as of* a position or a date and the annual reassessment all judge
//! through these functions, so a rule of judgement lives here and nowhere else.
//!
//! **A member's assessment** states every criterion — its value, what the rules require,
//! whether it is met and the log positions behind it — beside the judgements people
//! recorded: the card's two opinions and stars, and the unit branch's appraisal as it
//! stands. It never rates the member. Where a recorded judgement and the evidence
//! disagree ([`disagreements`]) it says so, in a sentence with the positions behind both:
//! "appraised excellent; service points 12.00 of the 60.00 the rules expect behind
//! excellent". People decide what follows. The criteria are `service_points` (verified
//! points against the annual threshold), `anniversary` (due when the member joined before
//! that year), `community_feedback` (at least one quarter) and `dual_card` (both sides
//! signed); `stars`, `wishes_fulfilled` and `household_visits` are shown to inform.
//!
//! **A branch's score** (0–100) is the sum of the rules' ranking weights, each times how
//! far the branch reached on that criterion (0–1), over the weights that apply to its
//! kind: hours per member and wishes fulfilled against the best branch of its kind, the
//! share of members who served and of completed cards, meetings and activities against
//! the numbers its kind must hold, and — for unit branches only, whose contest it is —
//! the quiz score out of 100. Branches are ranked among their own kind. A
//! branch's members are those whose unit or service branch it is, and those whose facts
//! of the year count for it: hours count for the branches their member belonged to when
//! they were logged (and for the branch that organised them), a wish for those when it
//! was confirmed, a completed card for those when its second side was signed. Ranks
//! follow the score, ties by branch id.

use crate::membership::Periods;
use allweather_domain::rules::Rules;
use allweather_domain::values::{BranchKind, Capacity, Category, Rating, Side, stored_name};
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
    /// The signed sides of the card, in the order signed.
    pub sides: Vec<Opinion>,
    /// The community side's stars and where they were awarded.
    pub stars: Option<(u32, u64)>,
    /// The unit branch's appraisal as it stands, if one was recorded.
    pub appraisal: Option<AppraisalFacts>,
    /// Where wishes they fulfilled were confirmed.
    pub wishes: Vec<u64>,
    /// Where their visits to paired households were recorded.
    pub visits: Vec<u64>,
    /// The branches they belonged to over time (none: only their branches now are
    /// known, and every fact counts for those).
    pub periods: Option<Periods>,
    /// Where their card of the year was issued.
    pub card: Option<u64>,
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
            stars: None,
            appraisal: None,
            wishes: Vec::new(),
            visits: Vec::new(),
            periods: None,
            card: None,
        }
    }
}

/// One side's signed opinion of the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opinion {
    /// Which side.
    pub side: Side,
    /// The opinion written.
    pub opinion: Rating,
    /// The signer's remarks (none for a side signed before remarks were kept in the
    /// read model).
    pub remarks: Option<String>,
    /// In which capacity it was signed (likewise).
    pub capacity: Option<Capacity>,
    /// Where it was signed.
    pub position: u64,
}

/// How an appraisal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// As the unit branch recorded it.
    Recorded,
    /// Confirmed by the committee.
    Confirmed,
    /// Overturned by the committee.
    Overturned,
}

impl Settled {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Settled::Recorded => "recorded",
            Settled::Confirmed => "confirmed",
            Settled::Overturned => "overturned",
        }
    }
}

/// The member-year's appraisal as it stands, with what it stands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppraisalFacts {
    /// The appraisal that stands.
    pub rating: Rating,
    /// Who settled it last.
    pub settled: Settled,
    /// The log position of the evidence the unit branch made it on.
    pub basis_position: u64,
    /// The unit branch's remarks.
    pub remarks: String,
    /// The committee's reason, when it overturned the appraisal.
    pub reason: Option<String>,
    /// The positions of every recording, confirmation and overturning, in order.
    pub positions: Vec<u64>,
}

/// A verified service record as it stands (after any correction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its category.
    pub category: Category,
    /// Its minutes.
    pub minutes: u32,
    /// The branches its member belonged to when it was logged: it counts for them.
    pub branches: Vec<String>,
    /// The branch that organised the activity, where its organiser entered it: it counts
    /// for that branch's hours too.
    pub organiser: Option<String>,
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
}

impl Measure {
    /// As JSON: a number, or the rating's name (null if none).
    pub fn to_json(self) -> Value {
        match self {
            Measure::Hundredths(h) => json!(h as f64 / 100.0),
            Measure::Count(n) => json!(n),
            Measure::Share(bp) => json!(bp as f64 / 10_000.0),
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Measure::Hundredths(h) => write!(f, "{}.{:02}", h / 100, h % 100),
            Measure::Count(n) => write!(f, "{n}"),
            Measure::Share(bp) => write!(f, "{}.{:02}%", bp / 100, bp % 100),
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

/// A member's assessment for a year: the evidence and the judgements people recorded,
/// side by side. No rating of the system's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The member.
    pub member_id: String,
    /// Their name.
    pub name: String,
    /// Whether both sides of the card are signed.
    pub complete: bool,
    /// Every criterion.
    pub criteria: Vec<Criterion>,
    /// The card's signed opinions, in the order signed.
    pub opinions: Vec<Opinion>,
    /// The community side's stars and where they were awarded.
    pub stars: Option<(u32, u64)>,
    /// The appraisal as it stands.
    pub appraisal: Option<AppraisalFacts>,
    /// Every disagreement between a recorded judgement and the evidence.
    pub disagreements: Vec<Disagreement>,
}

/// A recorded judgement that the evidence, or another judgement it rests on, does not
/// bear out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// Whose judgement: `appraisal`, `community_opinion` or `unit_opinion`.
    pub judgement: &'static str,
    /// The rating it gave.
    pub rating: Rating,
    /// What it disagrees with: a criterion's name, or the other judgement's.
    pub with: &'static str,
    /// The disagreement in a sentence.
    pub statement: String,
    /// The positions of the judgement and of the evidence it disagrees with.
    pub evidence: Vec<u64>,
}

fn qualified_or_above(r: Rating) -> bool {
    matches!(r, Rating::Excellent | Rating::Qualified)
}

/// The points the rules expect behind `rating` (none behind `unqualified`).
fn expected_points(rules: &Rules, rating: Rating) -> Option<u64> {
    let [excellent, qualified, basically] = rules.rating_thresholds_hundredths.map(u64::from);
    match rating {
        Rating::Excellent => Some(excellent),
        Rating::Qualified => Some(qualified),
        Rating::BasicallyQualified => Some(basically),
        Rating::Unqualified => None,
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Community => "community_opinion",
        Side::Unit => "unit_opinion",
    }
}

/// Where each recorded judgement (the card's two opinions, the appraisal) and the
/// evidence disagree, under `rules`:
/// - it gives a rating the points do not reach (fewer service points than the rules
///   expect behind that rating);
/// - it rates the member qualified or above while a requirement is not met;
/// - it rates the member basically qualified or unqualified while every requirement is
///   met;
/// - the appraisal differs from an opinion on the card, which is its main reference.
pub fn disagreements(
    criteria: &[Criterion],
    points: u64,
    opinions: &[Opinion],
    appraisal: Option<&AppraisalFacts>,
    rules: &Rules,
) -> Vec<Disagreement> {
    let mut judgements: Vec<(&'static str, &'static str, Rating, u64)> = opinions
        .iter()
        .map(|o| {
            let who = match o.side {
                Side::Community => "community side's opinion",
                Side::Unit => "unit side's opinion",
            };
            (side_name(o.side), who, o.opinion, o.position)
        })
        .collect();
    if let Some(a) = appraisal {
        let at = a.positions.last().copied().unwrap_or(a.basis_position);
        judgements.push(("appraisal", "appraised", a.rating, at));
    }
    let service = criteria.iter().find(|c| c.name == "service_points");
    let mut found = Vec::new();
    for (judgement, who, rating, at) in judgements {
        let r = rating_name(rating);
        let mut say = |with: &'static str, statement: String, evidence: &[u64]| {
            let mut positions = vec![at];
            positions.extend_from_slice(evidence);
            found.push(Disagreement {
                judgement,
                rating,
                with,
                statement,
                evidence: sorted(positions),
            });
        };
        if let Some(expected) = expected_points(rules, rating).filter(|e| points < *e) {
            say(
                "service_points",
                format!(
                    "{who} {r}; service points {} of the {} the rules expect behind {r}",
                    Measure::Hundredths(points),
                    Measure::Hundredths(expected)
                ),
                service.map_or(&[][..], |c| &c.evidence),
            );
        }
        // The card's own signatures are not evidence against the opinions on it.
        let unmet: Vec<&Criterion> = criteria
            .iter()
            .filter(|c| c.passed == Some(false) && c.name != "service_points")
            .filter(|c| judgement == "appraisal" || c.name != "dual_card")
            .collect();
        if qualified_or_above(rating) {
            for c in &unmet {
                say(
                    c.name,
                    format!("{who} {r}; {} not met ({})", c.name, describe(c)),
                    &c.evidence,
                );
            }
        } else if unmet.is_empty() && service.is_none_or(|c| c.passed != Some(false)) {
            say(
                "requirements",
                format!("{who} {r}; every requirement of the year is met"),
                service.map_or(&[][..], |c| &c.evidence),
            );
        }
        if judgement == "appraisal" {
            for o in opinions.iter().filter(|o| o.opinion != rating) {
                say(
                    side_name(o.side),
                    format!(
                        "{who} {r}; the {} on the card is {}",
                        match o.side {
                            Side::Community => "community side's opinion",
                            Side::Unit => "unit side's opinion",
                        },
                        rating_name(o.opinion)
                    ),
                    &[o.position],
                );
            }
        }
    }
    found
}

fn met(value: u64, required: u64) -> Option<bool> {
    Some(value >= required)
}

/// The assessment of `member` for `year` under `rules`: the criteria, the judgements
/// people recorded, and where they disagree.
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
    let sides: BTreeSet<&'static str> = member.sides.iter().map(|o| side_name(o.side)).collect();
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
            evidence: sorted(member.sides.iter().map(|o| o.position)),
        },
        Criterion {
            name: "stars",
            value: Measure::Count(member.stars.map_or(0, |(n, _)| u64::from(n))),
            required: None,
            passed: None,
            evidence: member.stars.map(|(_, p)| p).into_iter().collect(),
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
    let disagreements = disagreements(
        &criteria,
        points,
        &member.sides,
        member.appraisal.as_ref(),
        rules,
    );
    Assessment {
        member_id: member_id.to_owned(),
        name: member.name.clone(),
        complete: sides.len() == 2,
        criteria,
        opinions: member.sides.clone(),
        stars: member.stars,
        appraisal: member.appraisal.clone(),
        disagreements,
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

/// The ranking of the book's branches under `rules`: of `kind`, or of each kind in turn
/// (unit, service, temporary), every branch ranked among its own kind — a unit branch is
/// not measured against a community's.
pub fn rank(book: &Book, rules: &Rules, kind: Option<&str>) -> Vec<Standing> {
    match kind {
        Some(kind) => rank_kind(book, rules, kind),
        None => BranchKind::ALL
            .iter()
            .flat_map(|k| rank_kind(book, rules, &stored_name(k)))
            .collect(),
    }
}

fn rank_kind(book: &Book, rules: &Rules, kind: &str) -> Vec<Standing> {
    let mut tallies: BTreeMap<&str, Tally> = book
        .branches
        .iter()
        .filter(|(_, b)| b.kind == kind)
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
        let sides: HashSet<Side> = member.sides.iter().map(|o| o.side).collect();
        // Hours count for the branches the member belonged to when they were logged, and
        // for the branch that organised them (without making the member its member).
        let mut minutes: BTreeMap<&str, u64> = BTreeMap::new();
        let mut organised: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &member.records {
            for b in &r.branches {
                *minutes.entry(b.as_str()).or_default() += u64::from(r.minutes);
            }
            if let Some(o) = r
                .organiser
                .as_deref()
                .filter(|o| !r.branches.iter().any(|b| b == o))
            {
                *organised.entry(o).or_default() += u64::from(r.minutes);
            }
        }
        for (branch, extra) in organised {
            if let Some(t) = tallies.get_mut(branch) {
                t.minutes += extra;
            }
        }
        let now: Vec<String> = std::iter::once(member.unit_branch_id.clone())
            .chain(member.service_branch_id.clone())
            .collect();
        // The branches the member belonged to at `position` (now, where that is unknown).
        let then = |position: u64| {
            member
                .periods
                .as_ref()
                .map_or_else(|| now.clone(), |p| p.at(position))
        };
        // A wish counts for the branches the member belonged to when it was confirmed; a
        // completed card for those when its second side was signed.
        let mut wishes: BTreeMap<String, u64> = BTreeMap::new();
        for at in &member.wishes {
            for b in then(*at) {
                *wishes.entry(b).or_default() += 1;
            }
        }
        let card: Vec<String> = match (sides.len(), member.sides.iter().map(|o| o.position).max()) {
            (2, Some(completed)) => then(completed),
            _ => Vec::new(),
        };
        // A member counts in the branches they belong to now and in those their facts of
        // the year count for.
        let counted: BTreeSet<&str> = now
            .iter()
            .chain(wishes.keys())
            .chain(&card)
            .map(String::as_str)
            .chain(minutes.keys().copied())
            .collect();
        for branch in counted {
            if let Some(t) = tallies.get_mut(branch) {
                let served = minutes.get(branch).copied().unwrap_or(0);
                t.members += 1;
                t.minutes += served;
                t.serving += u64::from(served > 0);
                t.cards += u64::from(card.iter().any(|b| b == branch));
                t.wishes += wishes.get(branch).copied().unwrap_or(0);
            }
        }
    }
    // Hundredths of an hour per member.
    let per_member = |t: &Tally| (t.minutes * 100 / 60).checked_div(t.members).unwrap_or(0);
    let best_hours = tallies.values().map(per_member).max().unwrap_or(0);
    let best_wishes = tallies.values().map(|t| t.wishes).max().unwrap_or(0);
    let w = &rules.ranking_weights;
    let requirement = BranchKind::ALL
        .into_iter()
        .find(|k| stored_name(k) == kind)
        .map_or(
            allweather_domain::rules::Requirement {
                meetings: rules.required_meetings,
                activities: rules.required_activities,
            },
            |k| rules.requirement(k),
        );
    let required_meetings = u64::from(requirement.meetings);
    let required_activities = u64::from(requirement.activities);
    // The closed-book quiz is the in-service unit branches' (one contestant each).
    let quiz_weight = if kind == "unit" { w.quiz } else { 0 };
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
                    weight: quiz_weight,
                },
                Component {
                    name: "card_completion",
                    value: Measure::Share(share(t.cards, t.members)),
                    required: None,
                    reached: share(t.cards, t.members),
                    weight: w.card_completion,
                },
            ];
            // The weights that apply to this kind, scaled to a score out of 100.
            let weights: u64 = criteria.iter().map(|c| u64::from(c.weight)).sum();
            let score = criteria
                .iter()
                .map(|c| u64::from(c.weight) * c.reached)
                .sum::<u64>()
                .checked_div(weights)
                .unwrap_or(0);
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

/// A member whose criteria, or the judgements the evidence contradicts, differ under
/// other rules; or a branch whose rank does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `member` or `branch`.
    pub kind: &'static str,
    /// The member's or branch's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Under the rules in force: a member's requirements met and disagreements, or a
    /// branch's rank.
    pub before: String,
    /// The same under the other rules.
    pub after: String,
    /// Each criterion that differs: its name, old and new value.
    pub criteria: Vec<(&'static str, String, String)>,
    /// Each recorded opinion or appraisal the evidence contradicts under the other rules
    /// and not under those in force, as a sentence.
    pub contradicted: Vec<String>,
    /// Each one contradicted under the rules in force and no longer under the other rules.
    pub reconciled: Vec<String>,
}

/// What judging a year under other rules changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Members judged.
    pub members: usize,
    /// Branches ranked.
    pub branches: usize,
    /// Members for whom a criterion's verdict or a contradicted judgement changed.
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

/// A member's standing under one set of rules, in words: requirements met and
/// judgements contradicted.
fn summary(a: &Assessment) -> String {
    let required = a.criteria.iter().filter(|c| c.passed.is_some()).count();
    let met = a.criteria.iter().filter(|c| c.passed == Some(true)).count();
    format!(
        "{met} of {required} requirements met; {} disagreement(s)",
        a.disagreements.len()
    )
}

/// Judges the book's year under the rules `in_force` and under `proposed`, and names
/// every member for whom a criterion's verdict flips or a recorded opinion or appraisal
/// comes to be contradicted by the evidence, or no longer is — with the criteria that
/// differ — and every branch whose rank changes, with the criteria that differ. It
/// never rates a member.
pub fn compare(book: &Book, in_force: &Rules, proposed: &Rules) -> Comparison {
    let mut changes = Vec::new();
    for (id, member) in &book.members {
        let (old, new) = (
            assess(book.year, id, member, in_force),
            assess(book.year, id, member, proposed),
        );
        let criteria: Vec<(&'static str, String, String)> = old
            .criteria
            .iter()
            .zip(&new.criteria)
            .filter(|(a, b)| (a.value, a.required, a.passed) != (b.value, b.required, b.passed))
            .map(|(a, b)| (a.name, describe(a), describe(b)))
            .collect();
        let statements = |a: &Assessment| -> BTreeSet<String> {
            a.disagreements
                .iter()
                .map(|d| d.statement.clone())
                .collect()
        };
        let (was, now) = (statements(&old), statements(&new));
        let contradicted: Vec<String> = now.difference(&was).cloned().collect();
        let reconciled: Vec<String> = was.difference(&now).cloned().collect();
        // A requirement raised for everyone is no news about a member it changes
        // nothing for: a member is listed when a verdict flips or a judgement's standing
        // against the evidence does.
        let verdicts_flip = old
            .criteria
            .iter()
            .zip(&new.criteria)
            .any(|(a, b)| a.passed != b.passed);
        if verdicts_flip || !contradicted.is_empty() || !reconciled.is_empty() {
            changes.push(Change {
                kind: "member",
                id: id.clone(),
                name: member.name.clone(),
                before: summary(&old),
                after: summary(&new),
                criteria,
                contradicted,
                reconciled,
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
                contradicted: Vec::new(),
                reconciled: Vec::new(),
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
            branches: Vec::new(),
            organiser: None,
            evidence: vec![at, at + 1],
        }
    }

    fn criterion<'a>(a: &'a Assessment, name: &str) -> &'a Criterion {
        a.criteria
            .iter()
            .find(|c| c.name == name)
            .expect("the criterion is listed")
    }

    fn opinion(side: Side, opinion: Rating, position: u64) -> Opinion {
        Opinion {
            side,
            opinion,
            remarks: Some("ok".into()),
            capacity: Some(Capacity::Secretary),
            position,
        }
    }

    fn appraised(rating: Rating, at: u64) -> AppraisalFacts {
        AppraisalFacts {
            rating,
            settled: Settled::Recorded,
            basis_position: at - 1,
            remarks: "democratic appraisal".into(),
            reason: None,
            positions: vec![at],
        }
    }

    fn statements(a: &Assessment) -> Vec<&str> {
        a.disagreements
            .iter()
            .map(|d| d.statement.as_str())
            .collect()
    }

    #[test]
    fn the_criteria_carry_their_evidence_and_no_rating_is_derived() {
        let mut m = member("u");
        // 20 h of central work at 2 points an hour: 40 points, the threshold.
        m.records.push(record(Category::CentralWork, 1200, 10));
        m.feedback.push((1, 20));
        m.anniversary = Some(30);
        let a = assess(2026, "m", &m, &rules());
        assert!(!a.complete);
        let points = criterion(&a, "service_points");
        assert_eq!(points.value, Measure::Hundredths(4000));
        assert_eq!(points.passed, Some(true));
        assert_eq!(points.evidence, vec![10, 11]);
        // Nothing recorded by people: nothing to disagree with, and nothing rated.
        assert!(a.disagreements.is_empty(), "{:?}", a.disagreements);
        assert!(a.appraisal.is_none() && a.opinions.is_empty());
        assert!(
            a.criteria
                .iter()
                .all(|c| !c.name.contains("rating") && c.name != "outcome"),
            "{:?}",
            a.criteria
        );
    }

    #[test]
    fn an_appraisal_the_points_do_not_reach_is_named_with_both_positions() {
        let mut m = member("u");
        // 6 h of cleanup: 6 points, of 40 required and 60 expected behind excellent.
        m.records.push(record(Category::Cleanup, 360, 10));
        m.feedback.push((1, 20));
        m.anniversary = Some(30);
        m.appraisal = Some(appraised(Rating::Excellent, 90));
        let a = assess(2026, "m", &m, &rules());
        assert_eq!(
            statements(&a),
            [
                "appraised excellent; service points 6.00 of the 60.00 the rules expect behind excellent",
                "appraised excellent; dual_card not met (0 of 2, not met)",
            ]
        );
        assert_eq!(a.disagreements[0].evidence, vec![10, 11, 90]);
        // The appraisal stands as people recorded it.
        assert_eq!(
            a.appraisal.as_ref().map(|p| p.rating),
            Some(Rating::Excellent)
        );
    }

    #[test]
    fn opinions_are_compared_with_each_requirement_and_the_appraisal_with_the_card() {
        let mut m = member("u");
        m.records.push(record(Category::CentralWork, 3600, 10));
        m.anniversary = Some(30);
        // No community feedback this year, yet the unit side writes "qualified".
        m.sides.push(opinion(Side::Unit, Rating::Qualified, 50));
        m.sides
            .push(opinion(Side::Community, Rating::Excellent, 60));
        m.appraisal = Some(appraised(Rating::Excellent, 70));
        let a = assess(2026, "m", &m, &rules());
        assert!(a.complete);
        assert_eq!(
            statements(&a),
            [
                "unit side's opinion qualified; community_feedback not met (0 of 1, not met)",
                "community side's opinion excellent; community_feedback not met (0 of 1, not met)",
                "appraised excellent; community_feedback not met (0 of 1, not met)",
                "appraised excellent; the unit side's opinion on the card is qualified",
            ]
        );
        // An unfavourable judgement of a member who met every requirement is named too.
        m.feedback.push((2, 40));
        m.appraisal = Some(appraised(Rating::Unqualified, 80));
        let a = assess(2026, "m", &m, &rules());
        assert!(
            statements(&a).contains(&"appraised unqualified; every requirement of the year is met"),
            "{:?}",
            statements(&a)
        );
        assert_eq!(criterion(&a, "dual_card").evidence, vec![50, 60]);
    }

    #[test]
    fn a_requirement_of_no_meetings_or_activities_is_met_in_full_and_says_so() {
        let mut book = Book {
            year: 2026,
            ..Book::default()
        };
        book.branches
            .insert("b1".into(), BranchFacts::new("b1".into(), "unit".into()));
        book.members.insert("m1".into(), member("b1"));
        let mut rules = rules();
        rules.branch_requirements.insert(
            BranchKind::Unit,
            allweather_domain::rules::Requirement {
                meetings: 0,
                activities: 0,
            },
        );
        let standings = rank(&book, &rules, Some("unit"));
        let meetings = standings[0]
            .criteria
            .iter()
            .find(|c| c.name == "meetings")
            .expect("meetings");
        assert_eq!(
            (meetings.required, meetings.reached, meetings.value),
            (Some(Measure::Count(0)), 10_000, Measure::Count(0)),
            "nothing required, nothing held: met in full, and the requirement shown as 0"
        );
        assert_eq!(
            standings[0].score,
            u64::from(rules.ranking_weights.meetings) * 100
        );
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
        let mut cleanup = record(Category::Cleanup, 600, 1);
        cleanup.branches = vec!["b2".into()];
        busy.records.push(cleanup);
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
    fn hours_count_for_the_branch_the_member_belonged_to_when_they_were_logged() {
        let mut book = Book {
            year: 2026,
            ..Book::default()
        };
        for id in ["old", "new"] {
            book.branches
                .insert(id.into(), BranchFacts::new(id.into(), "unit".into()));
        }
        // Transferred from "old" to "new": ten hours logged before, two after.
        let mut moved = member("new");
        let mut before = record(Category::Cleanup, 600, 1);
        before.branches = vec!["old".into()];
        let mut after = record(Category::Cleanup, 120, 9);
        after.branches = vec!["new".into()];
        moved.records.extend([before, after]);
        book.members.insert("m".into(), moved);
        let standings = rank(&book, &rules(), None);
        let hours = |id: &str| {
            standings
                .iter()
                .find(|s| s.branch_id == id)
                .map(|s| (s.members, s.criteria[0].value))
        };
        assert_eq!(hours("old"), Some((1, Measure::Hundredths(1000))));
        assert_eq!(hours("new"), Some((1, Measure::Hundredths(200))));

        // A wish confirmed before the move counts for "old"; the card completed after it,
        // for "new".
        let mut periods = Periods::new("new".into(), 5, None);
        periods.with_earlier("old".into(), 0, 5);
        let m = book.members.get_mut("m").expect("member");
        m.periods = Some(periods);
        m.wishes.push(3);
        m.sides.push(opinion(Side::Community, Rating::Qualified, 7));
        m.sides.push(opinion(Side::Unit, Rating::Qualified, 8));
        let standings = rank(&book, &rules(), None);
        let of = |id: &str, name: &str| {
            standings
                .iter()
                .find(|s| s.branch_id == id)
                .and_then(|s| s.criteria.iter().find(|c| c.name == name))
                .map(|c| c.value)
        };
        assert_eq!(of("old", "wishes_fulfilled"), Some(Measure::Count(1)));
        assert_eq!(of("new", "wishes_fulfilled"), Some(Measure::Count(0)));
        assert_eq!(of("new", "card_completion"), Some(Measure::Share(10_000)));
        assert_eq!(of("old", "card_completion"), Some(Measure::Share(0)));
    }

    #[test]
    fn hours_an_organiser_entered_count_for_the_organising_branch_too() {
        let mut book = Book {
            year: 2026,
            ..Book::default()
        };
        book.branches
            .insert("u".into(), BranchFacts::new("u".into(), "unit".into()));
        book.branches
            .insert("s".into(), BranchFacts::new("s".into(), "service".into()));
        let mut neighbour = member("u");
        neighbour.service_branch_id = Some("s".into());
        book.members.insert("n".into(), neighbour);
        // A member of another community took part in the clean-up "s" organised.
        let mut guest = member("u");
        let mut cleanup = record(Category::Cleanup, 180, 1);
        cleanup.branches = vec!["u".into()];
        cleanup.organiser = Some("s".into());
        guest.records.push(cleanup);
        book.members.insert("g".into(), guest);
        let standings = rank(&book, &rules(), None);
        let of = |id: &str| {
            standings
                .iter()
                .find(|s| s.branch_id == id)
                .map(|s| (s.members, s.criteria[0].value))
        };
        // "s" has one member of its own and the guest's three hours; "u" two members.
        assert_eq!(of("s"), Some((1, Measure::Hundredths(300))));
        assert_eq!(of("u"), Some((2, Measure::Hundredths(150))));
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
        let mut cleanup = record(Category::Cleanup, 45 * 60, 1);
        cleanup.branches = vec!["b2".into()];
        served.records.push(cleanup);
        served.feedback.push((1, 5));
        served.anniversary = Some(6);
        served.appraisal = Some(appraised(Rating::Qualified, 9));
        book.members.insert("m1".into(), served);
        let rules = rules();
        let same = compare(&book, &rules, &rules);
        assert_eq!((same.members, same.branches), (1, 2));
        assert!(same.changes.is_empty(), "{:?}", same.changes);

        // 45 points: the threshold met at 40, not at 50, where the rules also expect 50
        // behind "qualified"; and a ranking on the quiz alone puts b1 first.
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
            (
                "member",
                "3 of 4 requirements met; 1 disagreement(s)",
                "2 of 4 requirements met; 2 disagreement(s)"
            )
        );
        assert_eq!(
            m.criteria,
            [(
                "service_points",
                "45.00 of 40.00, met".to_owned(),
                "45.00 of 50.00, not met".to_owned()
            )]
        );
        // The appraisal the new evidence contradicts is named; no new rating is given.
        assert_eq!(
            m.contradicted,
            [
                "appraised qualified; service points 45.00 of the 50.00 the rules expect behind qualified"
            ]
        );
        assert!(m.reconciled.is_empty());
        let b1 = &c.changes[1];
        assert_eq!(
            (b1.id.as_str(), b1.before.as_str()),
            ("b1", "rank 2 (score 12.00)")
        );
        // (These weights sum to 140: the score is over them, 80 · 100 / 140.)
        assert_eq!(b1.after, "rank 1 (score 57.14)");
        assert!(
            b1.criteria.iter().any(|(name, _, _)| *name == "quiz"),
            "{:?}",
            b1.criteria
        );
    }
}
