//! The programme's vocabularies, and the checks every text and quantity goes through.
//! Stored names (snake_case) are a contract: never rename.

use crate::error::{DomainError, Rule};
use serde::{Deserialize, Serialize};

/// What kind of branch.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BranchKind {
    /// A unit branch (机关支部): members' branch at work.
    Unit,
    /// A community service branch (服务支部): runs community activities members join.
    Service,
    /// A temporary branch (基层服务临时支部): the branch, in the residential community,
    /// of the in-service members who live there; it holds its own meetings and
    /// activities, records each member's conduct there and reports it to their unit.
    Temporary,
}

impl BranchKind {
    /// Every kind.
    pub const ALL: [BranchKind; 3] = [BranchKind::Unit, BranchKind::Service, BranchKind::Temporary];
}

/// Categories of service, as the programme counts them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Community service.
    CommunityService,
    /// Needs of a convenience centre.
    ConvenienceCentre,
    /// Festival events.
    Festival,
    /// The county's central work (beautiful villages, water treatment, civilised city).
    CentralWork,
    /// Reservoir resettlement.
    ReservoirResettlement,
    /// Clean-up.
    Cleanup,
    /// The village service street.
    VillageServiceStreet,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 7] = [
        Category::CommunityService,
        Category::ConvenienceCentre,
        Category::Festival,
        Category::CentralWork,
        Category::ReservoirResettlement,
        Category::Cleanup,
        Category::VillageServiceStreet,
    ];
}

/// How service hours were captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Entered by the member.
    SelfReported,
    /// Entered by the organiser of the activity.
    Organiser,
    /// Captured by a check-in at the activity.
    CheckIn,
}

/// A side of the dual management card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The community (service) branch's side.
    Community,
    /// The work-unit branch's side.
    Unit,
}

/// In which capacity a person acted for a branch: its appointed secretary, its deputy
/// (where the secretary is the member concerned or the post is vacant), or a committee
/// admin (likewise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    /// The branch's appointed secretary.
    Secretary,
    /// The branch's deputy secretary.
    Deputy,
    /// A committee administrator.
    CommitteeAdmin,
}

/// A rating given by people: an opinion on a side of the card, or an appraisal. The
/// system records and compares these; it never derives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// 优秀
    Excellent,
    /// 合格
    Qualified,
    /// 基本合格
    BasicallyQualified,
    /// 不合格
    Unqualified,
}

impl Rating {
    /// Qualified or above.
    pub fn is_qualified_or_above(self) -> bool {
        matches!(self, Rating::Excellent | Rating::Qualified)
    }
}

/// Why a member left the programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// Retired.
    Retired,
    /// Transferred out of the county.
    TransferredOut,
    /// Deceased.
    Deceased,
    /// Another reason.
    Other,
}

/// Where a wish comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WishOrigin {
    /// A micro-wish (微心愿) of a person in need.
    MicroWish,
    /// A service need reported by a community.
    ServiceNeed,
}

/// What kind of campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Reservoir resettlement.
    Resettlement,
    /// Clean-up.
    Cleanup,
    /// Village service street.
    VillageStreet,
    /// Festival.
    Festival,
    /// The county's central work.
    CentralWork,
}

/// The level of a demonstration site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteLevel {
    /// County level.
    County,
    /// Township level.
    Township,
    /// Village or community level.
    Village,
}

/// How public a volunteer leaderboard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone may see it.
    Public,
    /// Only authenticated members may see it.
    MembersOnly,
    /// Not shown.
    Off,
}

/// The stored (snake_case) name of a vocabulary value (`Category::CentralWork` →
/// `central_work`): the name events, rules and read models use.
pub fn stored_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Minutes in an hour.
pub const MINUTES_PER_HOUR: u32 = 60;

/// Converts hours as the API takes them (`1.5`) to whole minutes, once, at the edge.
/// Refuses what is not a whole number of minutes: the hours must be the nearest double to
/// some number of minutes over 60 (what `minutes / 60` gives in any language), give or
/// take the last bits a client's own arithmetic may cost (`0.1 + 0.2`), so `12.0000000001`
/// is refused as `1.00001` is.
pub fn minutes_from_hours(hours: f64) -> Result<u32, DomainError> {
    let minutes = (hours * f64::from(MINUTES_PER_HOUR)).round();
    let exact = minutes / f64::from(MINUTES_PER_HOUR);
    let slack = 4.0 * f64::EPSILON * hours.abs().max(1.0);
    if !hours.is_finite() || (hours - exact).abs() > slack || !(0.0..=1_440.0).contains(&minutes) {
        return Err(DomainError::new(
            Rule::HoursOutOfRange,
            format!("{hours} hours is not a whole number of minutes between 0 and 24 hours"),
        )
        .on("hours"));
    }
    // In range 0..=1440 and whole, so the conversion is exact.
    Ok(minutes as u32)
}

/// The quarters of a year a card's feedback is recorded for: 1 to this.
pub const QUARTERS: u32 = 4;

/// The highest quiz score.
pub const SCORE_MAX: u32 = 100;

/// The longest texts the domain takes, in characters; each command field's schema states
/// its limit from the same constant.
pub const TEXT_SHORT: usize = 50;
/// A name: of a branch, a member, a campaign, an area.
pub const TEXT_NAME: usize = 100;
/// A line: a title, a topic, an activity, a beneficiary's name or contact.
pub const TEXT_LINE: usize = 200;
/// A paragraph: a hardship, the reason of an erasure.
pub const TEXT_PARAGRAPH: usize = 500;
/// A reason.
pub const TEXT_REASON: usize = 1_000;
/// A note, remarks, evidence, a description.
pub const TEXT_NOTE: usize = 2_000;
/// A reflection.
pub const TEXT_ESSAY: usize = 5_000;

/// What [`text`] takes, as a JSON Schema pattern: something besides white space, and no
/// control characters but newlines, nor the invisible and direction-changing ones (each
/// command's text fields state it).
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\u{110BD}\u{110CD}\u{13430}-\u{1343F}\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}]*[^\s\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\u{110BD}\u{110CD}\u{13430}-\u{1343F}\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}][^\u0000-\u0009\u000B-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\u{110BD}\u{110CD}\u{13430}-\u{1343F}\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}]*$";

/// A text field, as it is kept: trimmed and in Unicode normal form C (so a name typed
/// with combining accents is the name typed with composed ones), 1 to `max` characters,
/// with no control characters but newlines and none that hides or turns text around:
/// format characters (zero-width spaces and joiners, direction marks and overrides, tag
/// characters, the soft hyphen) and line or paragraph separators. Such text reads as
/// something other than what it holds (a name that looks like another, a note whose
/// order flips on screen), so it is refused, naming the character.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    use unicode_normalization::UnicodeNormalization as _;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    let value: String = value.trim().nfc().collect();
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(DomainError::new(
            Rule::TextInvalid,
            format!("{field} must be 1 to {max} characters, got {chars}"),
        )
        .on(field));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::new(
            Rule::TextInvalid,
            format!("{field} holds control characters"),
        )
        .on(field));
    }
    let hidden = value.chars().find(|c| {
        matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    });
    if let Some(c) = hidden {
        return Err(DomainError::new(
            Rule::TextInvalid,
            format!(
                "{field} holds an invisible or direction-changing character (U+{:04X})",
                u32::from(c)
            ),
        )
        .on(field));
    }
    Ok(value)
}

/// A programme year, 2000 to 2100. A year is read — from a command's body, a query, a
/// flag or a rules file — only as this type, so its range is checked in one place and
/// stated in every published schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i32")]
pub struct Year(i32);

/// A year outside the programme's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be {first} to {last}, got {0}", first = Year::FIRST, last = Year::LAST)]
pub struct YearOutOfRange(pub i64);

impl Year {
    /// The first year the programme's records may concern.
    pub const FIRST: i32 = 2000;
    /// The last.
    pub const LAST: i32 = 2100;

    /// The year `year`, if the programme's calendar holds it.
    pub fn new(year: i64) -> Result<Year, YearOutOfRange> {
        i32::try_from(year)
            .ok()
            .filter(|y| (Year::FIRST..=Year::LAST).contains(y))
            .map(Year)
            .ok_or(YearOutOfRange(year))
    }

    /// The year as a number.
    pub const fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for Year {
    type Error = YearOutOfRange;

    fn try_from(year: i64) -> Result<Year, YearOutOfRange> {
        Year::new(year)
    }
}

impl From<Year> for i32 {
    fn from(year: Year) -> i32 {
        year.0
    }
}

impl std::fmt::Display for Year {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Year {
    type Err = String;

    fn from_str(text: &str) -> Result<Year, String> {
        let year: i64 = text
            .trim()
            .parse()
            .map_err(|_| format!("must be a year, got {text:?}"))?;
        Year::new(year).map_err(|e| e.to_string())
    }
}

impl schemars::JsonSchema for Year {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Year".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": Year::FIRST,
            "maximum": Year::LAST,
            "description": "a programme year",
        })
    }
}

impl Year {
    /// The year of a fact dated `date`, refused when the calendar does not hold it.
    pub fn of_date(date: chrono::NaiveDate) -> Result<Year, DomainError> {
        use chrono::Datelike as _;
        Year::new(i64::from(date.year())).map_err(|_| {
            DomainError::new(
                Rule::OutOfRange,
                format!(
                    "facts are dated in {} to {}; {date} is outside",
                    Year::FIRST,
                    Year::LAST
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_composed_and_refused_when_it_hides_or_turns_itself_around() {
        // "Zhèng" typed with a combining grave accent is kept as the composed letter.
        assert_eq!(
            text("name", " Zhe\u{300}ng ", 10),
            Ok("Zh\u{e8}ng".to_owned())
        );
        for hidden in [
            "Wang\u{200B}Fang",
            "Wang\u{200D}Fang",
            "\u{202E}gnaF gnaW",
            "Wang\u{2066}Fang",
            "Wang\u{AD}Fang",
            "Wang\u{FEFF}",
            "Wang\u{2028}Fang",
            "Wang\u{2029}Fang",
            "Wang\u{E0041}",
        ] {
            let refused = text("name", hidden, 100).expect_err(hidden);
            assert_eq!(
                (refused.rule, refused.field),
                (Rule::TextInvalid, Some("name")),
                "{hidden:?}"
            );
            assert!(refused.detail.contains("U+"), "{}", refused.detail);
        }
        assert!(text("note", "two\nlines", 100).is_ok());
    }
}
