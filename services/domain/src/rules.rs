//! The year's rules, as data: written by people as TOML (`rules/2026.toml`), sent to
//! `AdoptRules` as the same document in JSON, validated here with every problem named,
//! and stored in the `RulesAdopted` event in integer form (points in hundredths), so
//! that nothing hashed is a float.
//!
//! Validation names every problem, not the first: every category has points, the ranking
//! weights sum to 100, thresholds are in order, numbers are in range, the year is 2000 to
//! 2100; a syntax error or an unknown key is named with its TOML line.

use crate::values::{BranchKind, Category, Visibility, stored_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rules document as people write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDocument {
    /// The year the rules are for.
    pub year: i32,
    /// Service hours and points.
    pub service: ServiceDoc,
    /// Micro-wishes.
    pub wishes: WishesDoc,
    /// Branch duties.
    pub branches: BranchesDoc,
    /// Branch ranking weights, in percent, summing to 100.
    pub ranking: RankingWeights,
    /// Volunteer leaderboards.
    pub leaderboard: LeaderboardDoc,
    /// The points the programme expects behind each opinion or appraisal.
    pub rating: RatingDoc,
    /// The scale of stars (optional; the programme's 1 to 5 by default).
    #[serde(default)]
    pub stars: Option<StarsDoc>,
}

/// The programme's scale of stars, when a rules file names none.
pub const DEFAULT_MAX_STARS: u32 = 5;

/// `[stars]`: the community side's stars (评星).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarsDoc {
    /// Most stars a member may be awarded; awards run from 1 to this.
    pub max: u32,
}

/// `[service]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    /// Points per verified hour, by category (every category listed).
    pub points_per_hour: BTreeMap<Category, f64>,
    /// Points a member must reach in the year.
    pub annual_points_threshold: f64,
}

/// `[wishes]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WishesDoc {
    /// Hours a claim may stay unfulfilled before it is released.
    pub claim_expiry_hours: u32,
    /// Open claims a member may hold at once.
    pub max_open_claims: u32,
    /// Claims a member may give back in one day (rules adopted before it was a setting:
    /// [`DEFAULT_RELEASES_PER_DAY`]).
    #[serde(default = "default_releases_per_day")]
    pub max_releases_per_day: u32,
}

/// Claims a member may give back in one day where the rules do not say.
pub const DEFAULT_RELEASES_PER_DAY: u32 = 3;

fn default_releases_per_day() -> u32 {
    DEFAULT_RELEASES_PER_DAY
}

/// `[branches]`: what every branch must hold in the year, and optionally, per kind,
/// `[branches.unit]`, `[branches.service]`, `[branches.temporary]` with their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchesDoc {
    /// Meetings a branch must hold in the year.
    pub required_meetings: u32,
    /// Activities a branch must hold in the year.
    pub required_activities: u32,
    /// Unit branches' own numbers.
    #[serde(default)]
    pub unit: Option<KindDoc>,
    /// Service branches' own numbers.
    #[serde(default)]
    pub service: Option<KindDoc>,
    /// Temporary branches' own numbers.
    #[serde(default)]
    pub temporary: Option<KindDoc>,
}

/// `[branches.KIND]`
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindDoc {
    /// Meetings a branch of this kind must hold in the year.
    pub required_meetings: u32,
    /// Activities a branch of this kind must hold in the year.
    pub required_activities: u32,
}

/// What a branch of one kind must hold in the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Requirement {
    /// Meetings.
    pub meetings: u32,
    /// Activities.
    pub activities: u32,
}

/// `[ranking]`: weights of the branch ranking criteria, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RankingWeights {
    /// Verified hours per member.
    pub hours_per_member: u32,
    /// Share of members with verified hours.
    pub participation: u32,
    /// Wishes fulfilled by the branch's members.
    pub wishes_fulfilled: u32,
    /// Meetings and activities against the requirement.
    pub meetings: u32,
    /// The quiz score.
    pub quiz: u32,
    /// Share of dual cards completed.
    pub card_completion: u32,
}

/// `[leaderboard]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardDoc {
    /// Who may see volunteer leaderboards.
    pub visibility: Visibility,
}

/// `[rating]`: the service points the programme expects behind each opinion or
/// appraisal. People rate; where a recorded opinion or appraisal stands on fewer points
/// than these, the assessment names the disagreement. Nothing is rated from them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingDoc {
    /// For `excellent`.
    pub excellent: f64,
    /// For `qualified`.
    pub qualified: f64,
    /// For `basically_qualified`.
    pub basically_qualified: f64,
}

/// The rules in force, as stored: points in hundredths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rules {
    /// The year.
    pub year: i32,
    /// Hundredths of a point per verified hour, by category.
    pub points_per_hour_hundredths: BTreeMap<Category, u32>,
    /// Hundredths of a point a member must reach in the year.
    pub annual_threshold_hundredths: u32,
    /// Hours a claim may stay unfulfilled.
    pub claim_expiry_hours: u32,
    /// Open claims a member may hold at once.
    pub max_open_claims: u32,
    /// Claims a member may give back in one day: claiming to read a person's details and
    /// giving the claim back, over and over, is how details would be harvested. (Rules
    /// a read model kept from before it was a setting read as the default.)
    #[serde(default = "default_releases_per_day")]
    pub max_releases_per_day: u32,
    /// Meetings a branch must hold (where its kind sets no number of its own).
    pub required_meetings: u32,
    /// Activities a branch must hold (likewise).
    pub required_activities: u32,
    /// What a branch of each kind must hold in the year.
    pub branch_requirements: BTreeMap<BranchKind, Requirement>,
    /// Branch ranking weights, in percent.
    pub ranking_weights: RankingWeights,
    /// Who may see volunteer leaderboards.
    pub leaderboard_visibility: Visibility,
    /// Hundredths of a point expected behind `excellent`, `qualified`,
    /// `basically_qualified`.
    pub rating_thresholds_hundredths: [u32; 3],
    /// Most stars a member may be awarded (from 1).
    pub max_stars: u32,
}

/// One problem with a rules document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesProblem {
    /// Where (`service.points_per_hour.festival`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a rules document was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
pub struct RulesError(pub Vec<RulesProblem>);

impl RulesError {
    fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        RulesError(vec![RulesProblem {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl Rules {
    /// Parses and validates a TOML rules file.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let doc: RulesDocument = toml::from_str(text).map_err(|e| {
            RulesError::one("toml", e.message().to_owned() + &location(text, e.span()))
        })?;
        doc.validate()
    }

    /// Parses and validates a TOML rules file, with the document as `AdoptRules` sends it
    /// (the file's content as JSON).
    pub fn from_toml_document(text: &str) -> Result<(Rules, serde_json::Value), RulesError> {
        let rules = Rules::from_toml(text)?;
        let document = toml::from_str(text).map_err(|e| {
            RulesError::one("toml", e.message().to_owned() + &location(text, e.span()))
        })?;
        Ok((rules, document))
    }

    /// Parses and validates the rules document sent as JSON.
    pub fn from_json(value: &serde_json::Value) -> Result<Rules, RulesError> {
        let doc: RulesDocument = serde_path_to_error::deserialize(value)
            .map_err(|e| RulesError::one(e.path().to_string(), e.inner().to_string()))?;
        doc.validate()
    }

    /// What a branch of `kind` must hold in the year.
    pub fn requirement(&self, kind: BranchKind) -> Requirement {
        self.branch_requirements
            .get(&kind)
            .copied()
            .unwrap_or(Requirement {
                meetings: self.required_meetings,
                activities: self.required_activities,
            })
    }

    /// Hundredths of a point for `minutes` of verified service in `category`.
    pub fn points_hundredths(&self, category: Category, minutes: u32) -> u64 {
        let per_hour = self
            .points_per_hour_hundredths
            .get(&category)
            .copied()
            .unwrap_or(0);
        points_hundredths(per_hour, minutes)
    }
}

/// Hundredths of a point for `minutes` of one verified record at `per_hour` hundredths an
/// hour: the programme's one points formula (each record rounded down on its own).
pub fn points_hundredths(per_hour: u32, minutes: u32) -> u64 {
    u64::from(per_hour) * u64::from(minutes) / 60
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

/// Points as hundredths, refusing negatives, more than two decimals and absurd values.
fn hundredths(field: String, value: f64, max: f64, problems: &mut Vec<RulesProblem>) -> u32 {
    let scaled = value * 100.0;
    let whole = scaled.round();
    if !value.is_finite() || !(0.0..=max).contains(&value) || (scaled - whole).abs() > 1e-6 {
        problems.push(RulesProblem {
            field,
            message: format!("must be 0 to {max} with at most two decimals, got {value}"),
        });
        return 0;
    }
    // Checked above: 0 ≤ whole ≤ max·100, which fits.
    whole as u32
}

impl RulesDocument {
    /// Checks every value and converts to the stored form.
    pub fn validate(self) -> Result<Rules, RulesError> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(RulesProblem {
                field: field.to_owned(),
                message,
            })
        };
        if let Err(e) = crate::values::Year::new(i64::from(self.year)) {
            problem("year", e.to_string());
        }
        for c in Category::ALL {
            if !self.service.points_per_hour.contains_key(&c) {
                let name = stored_name(&c);
                problem(
                    "service.points_per_hour",
                    format!("has no value for category {name}"),
                );
            }
        }
        if !(1..=720).contains(&self.wishes.claim_expiry_hours) {
            problem(
                "wishes.claim_expiry_hours",
                format!("must be 1 to 720, got {}", self.wishes.claim_expiry_hours),
            );
        }
        if !(1..=50).contains(&self.wishes.max_open_claims) {
            problem(
                "wishes.max_open_claims",
                format!("must be 1 to 50, got {}", self.wishes.max_open_claims),
            );
        }
        if !(1..=50).contains(&self.wishes.max_releases_per_day) {
            problem(
                "wishes.max_releases_per_day",
                format!("must be 1 to 50, got {}", self.wishes.max_releases_per_day),
            );
        }
        let general = KindDoc {
            required_meetings: self.branches.required_meetings,
            required_activities: self.branches.required_activities,
        };
        let mut branch_requirements = BTreeMap::new();
        for (kind, own) in [
            (BranchKind::Unit, self.branches.unit),
            (BranchKind::Service, self.branches.service),
            (BranchKind::Temporary, self.branches.temporary),
        ] {
            let prefix = match own {
                Some(_) => format!("branches.{}.", stored_name(&kind)),
                None => "branches.".to_owned(),
            };
            let doc = own.unwrap_or(general);
            for (name, v) in [
                ("required_meetings", doc.required_meetings),
                ("required_activities", doc.required_activities),
            ] {
                if v > 366 {
                    problem(
                        &format!("{prefix}{name}"),
                        format!("must be 0 to 366, got {v}"),
                    );
                }
            }
            branch_requirements.insert(
                kind,
                Requirement {
                    meetings: doc.required_meetings,
                    activities: doc.required_activities,
                },
            );
        }
        let w = self.ranking;
        let weights = [
            w.hours_per_member,
            w.participation,
            w.wishes_fulfilled,
            w.meetings,
            w.quiz,
            w.card_completion,
        ];
        // Summed wide: a weight near u32::MAX must not wrap into "100".
        let sum: u64 = weights.iter().map(|&x| u64::from(x)).sum();

        if sum != 100 {
            problem(
                "ranking",
                format!("weights must sum to 100, they sum to {sum}"),
            );
        }
        let mut points = BTreeMap::new();
        for (c, v) in &self.service.points_per_hour {
            let name = stored_name(c);
            points.insert(
                *c,
                hundredths(
                    format!("service.points_per_hour.{name}"),
                    *v,
                    100.0,
                    &mut problems,
                ),
            );
        }
        let threshold = hundredths(
            "service.annual_points_threshold".into(),
            self.service.annual_points_threshold,
            10_000.0,
            &mut problems,
        );
        let ratings = [
            hundredths(
                "rating.excellent".into(),
                self.rating.excellent,
                10_000.0,
                &mut problems,
            ),
            hundredths(
                "rating.qualified".into(),
                self.rating.qualified,
                10_000.0,
                &mut problems,
            ),
            hundredths(
                "rating.basically_qualified".into(),
                self.rating.basically_qualified,
                10_000.0,
                &mut problems,
            ),
        ];
        if !(ratings[0] >= ratings[1] && ratings[1] >= ratings[2]) {
            problems.push(RulesProblem {
                field: "rating".into(),
                message: "thresholds must not increase from excellent to basically_qualified"
                    .into(),
            });
        }
        let max_stars = self.stars.map_or(DEFAULT_MAX_STARS, |s| s.max);
        if !(1..=10).contains(&max_stars) {
            problems.push(RulesProblem {
                field: "stars.max".into(),
                message: format!("must be 1 to 10, got {max_stars}"),
            });
        }
        if !problems.is_empty() {
            return Err(RulesError(problems));
        }
        Ok(Rules {
            year: self.year,
            points_per_hour_hundredths: points,
            annual_threshold_hundredths: threshold,
            claim_expiry_hours: self.wishes.claim_expiry_hours,
            max_open_claims: self.wishes.max_open_claims,
            max_releases_per_day: self.wishes.max_releases_per_day,
            required_meetings: self.branches.required_meetings,
            required_activities: self.branches.required_activities,
            branch_requirements,
            ranking_weights: w,
            leaderboard_visibility: self.leaderboard.visibility,
            rating_thresholds_hundredths: ratings,
            max_stars,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES_2026: &str = include_str!("../../../rules/2026.toml");

    #[test]
    fn the_2026_rules_file_parses_into_hundredths() {
        let rules = Rules::from_toml(RULES_2026).expect("rules/2026.toml is valid");
        assert_eq!(rules.year, 2026);
        assert_eq!(rules.points_per_hour_hundredths.len(), Category::ALL.len());
        assert_eq!(
            rules.points_hundredths(Category::CommunityService, 90),
            u64::from(rules.points_per_hour_hundredths[&Category::CommunityService]) * 3 / 2
        );
    }

    #[test]
    fn every_problem_of_a_rules_document_is_named() {
        let bad = RULES_2026
            .replace("claim_expiry_hours = 72", "claim_expiry_hours = 0")
            .replace("quiz = 15", "quiz = 16")
            .replace("festival = 1.5", "festival = 1.505");
        let err = Rules::from_toml(&bad).expect_err("refused");
        let fields: Vec<&str> = err.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "wishes.claim_expiry_hours",
                "ranking",
                "service.points_per_hour.festival"
            ],
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let err =
            Rules::from_toml(&format!("{RULES_2026}\n[extra]\nx = 1\n")).expect_err("refused");
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
        assert!(err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn the_json_form_is_the_same_document() {
        let value: serde_json::Value = toml::from_str(RULES_2026).expect("toml");
        assert_eq!(Rules::from_json(&value), Rules::from_toml(RULES_2026));
    }
}
