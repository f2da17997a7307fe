//! # allweather-demo
//!
//! A realistic county's programme year, generated from a seed and sent through the real
//! command path — signed tokens, permissions, the year's rules — so that a new
//! installation has something to show and the tests have a workload no person wrote.
//!
//! The county: 40 work-unit branches of the county's bodies, 15 community service
//! branches, 5 temporary branches of the year's campaigns, and `members` members
//! (2,000 by default). Through the year: anniversaries observed in the month each
//! member joined, service hours in every category (in the campaigns' dates when they
//! belong to one), verified by the member's service-branch secretary or, above 8 hours,
//! by the committee, some rejected and some corrected; festival micro-wishes claimed
//! within hours and some never claimed; quarterly community feedback; household
//! plaques; branch meetings, activities and quiz results; paired households visited,
//! their concerns raised and resolved; and in December both sides of the dual cards
//! signed.
//!
//! [`plan`] is pure: the same options give the same commands, with the same ids, times
//! and idempotency keys. [`run`] sends them in time order with a simulated clock, so the
//! same seed writes the same log, to the hash (given a log whose `recorded_at` follows
//! the same [`SimClock`], and a service whose keys and nonces come from [`entropy`] of
//! the same seed).
//!
//! [`run`] goes through `CommandService` with tokens signed by the given key (the data
//! directory's, for `allweather demo`), setting the simulated clock before each command.
//! Every command carries an idempotency key, a UUID v7 of its time, and the plan chooses
//! every id; the log derives event ids from command ids, so a rerun appends nothing. The
//! beneficiaries' keys and nonces come from the seed only because they are invented
//! people: a real county's always come from the operating system. `allweather demo`
//! simulates last year by default, the latest complete one, so that nothing lies in the
//! future of the real clock.

use allweather_command::auth::Claims;
use allweather_command::{CommandError, CommandService, TokenKey};
use allweather_domain::command::{
    AdoptRules, ApplyCorrection, AppointSecretary, AssignServiceBranch, AwardStars, ClaimWish,
    ConfirmWish, DesignateDemonstrationSite, DisplayHouseholdPlaque, FulfilWish, IssueDualCard,
    LaunchCampaign, LogServiceHours, MemberLeft, ObserveAnniversary, PairHousehold, PublishWish,
    RaiseConcern, RecordAppraisal, RecordBranchActivity, RecordBranchMeeting,
    RecordCommunityFeedback, RecordQuizResult, RecordVisit, RegisterBranch, RegisterHousehold,
    RegisterMember, RejectServiceHours, ReleaseWish, ResolveConcern, SignDualCard, TransferMember,
    VacateSecretary, VerifyServiceHours,
};
use allweather_domain::values::{
    BranchKind, CampaignKind, Category, Channel, LeaveReason, Rating, Side, SiteLevel, WishOrigin,
    Year,
};
use allweather_domain::{Command, Principal};
use allweather_events::Timestamp;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

/// What county to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// Members (2,000 by default).
    pub members: usize,
    /// The seed: the same seed makes the same county.
    pub seed: u64,
    /// The programme year simulated, January to December.
    pub year: i32,
    /// The county's offset from UTC (its calendar decides dates).
    pub county_offset: FixedOffset,
}

/// The simulated time the commands of the demo happen at.
#[derive(Debug, Clone)]
pub struct SimClock(Arc<AtomicI64>);

impl SimClock {
    /// A clock at `at`.
    pub fn new(at: DateTime<Utc>) -> SimClock {
        SimClock(Arc::new(AtomicI64::new(at.timestamp_micros())))
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }

    fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_micros(), Ordering::SeqCst);
    }
}

/// Who issues a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Admin,
    Centre,
    Member(Uuid),
    Secretary { branch: Uuid, member: Uuid },
}

/// One command of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// When it happens.
    pub at: DateTime<Utc>,
    /// The command.
    pub command: Command,
    /// Its idempotency key (a UUID v7 of its time): a rerun repeats nothing.
    pub key: Uuid,
    who: Who,
}

/// What the plan holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Branches by kind.
    pub branches: BTreeMap<&'static str, usize>,
    /// Members.
    pub members: usize,
    /// Wishes published.
    pub wishes: usize,
    /// Households registered.
    pub households: usize,
    /// Service entries logged.
    pub service_entries: usize,
}

/// The demo's commands, in time order, and what they make.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every command.
    pub steps: Vec<Step>,
    /// What they create.
    pub census: Census,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Commands accepted (or already in the log from an earlier run).
    pub accepted: usize,
    /// Commands the domain refused, by code and rule, with the first refusal's detail.
    pub refused: BTreeMap<String, (usize, String)>,
}

const UNIT_BODIES: [&str; 40] = [
    "水利局",
    "教育局",
    "卫生健康委",
    "财政局",
    "交通运输局",
    "自然资源局",
    "住房城乡建设局",
    "农业农村局",
    "商务局",
    "民政局",
    "人力资源社会保障局",
    "生态环境局",
    "文化旅游局",
    "应急管理局",
    "市场监管局",
    "统计局",
    "医疗保障局",
    "审计局",
    "司法局",
    "公安局",
    "信访局",
    "林业局",
    "供销社",
    "气象局",
    "档案馆",
    "县委办",
    "政府办",
    "组织部",
    "宣传部",
    "统战部",
    "政法委",
    "纪委监委",
    "发展改革局",
    "工业信息化局",
    "科技局",
    "退役军人事务局",
    "乡村振兴局",
    "行政审批局",
    "融媒体中心",
    "总工会",
];
const COMMUNITIES: [&str; 15] = [
    "城东",
    "城西",
    "城南",
    "城北",
    "滨江",
    "新华",
    "人民路",
    "解放路",
    "和平",
    "团结",
    "光明",
    "幸福",
    "文昌",
    "青年路",
    "建设路",
];
/// Residential communities with a temporary branch (基层服务临时支部) of the in-service
/// members who live there.
const TEMPORARY: [&str; 5] = ["锦绣花园", "滨江新村", "幸福家园", "文昌苑", "龙泉小区"];
const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN: [&str; 30] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "平", "刚", "桂英", "文", "辉", "建国", "志强", "海燕", "晓东", "红梅",
    "春生",
];

/// The categories, how often members serve in each (out of 100), and what they do.
const CATEGORIES: [(Category, u32, &[&str]); 7] = [
    (
        Category::CommunityService,
        28,
        &[
            "社区环境清扫",
            "关爱空巢老人",
            "社区政策宣讲",
            "垃圾分类劝导",
            "文明交通劝导",
        ],
    ),
    (
        Category::ConvenienceCentre,
        14,
        &[
            "便民服务中心值班",
            "代办证件服务",
            "便民理发",
            "家电义务维修",
        ],
    ),
    (
        Category::Festival,
        12,
        &[
            "春节慰问困难群众",
            "元宵节灯谜活动",
            "中秋送月饼",
            "重阳敬老活动",
        ],
    ),
    (
        Category::CentralWork,
        16,
        &[
            "美丽乡村建设",
            "污水处理设施巡查",
            "文明城市创建督导",
            "河道巡查",
        ],
    ),
    (
        Category::ReservoirResettlement,
        10,
        &["水库移民搬迁协助", "移民安置点走访", "移民政策解读"],
    ),
    (
        Category::Cleanup,
        12,
        &["河岸垃圾清理", "背街小巷整治", "农村人居环境整治"],
    ),
    (
        Category::VillageServiceStreet,
        8,
        &["乡村服务一条街义诊", "农技咨询", "法律咨询服务"],
    ),
];
const MICRO_WISHES: [&str; 7] = [
    "一桶食用油和一袋大米",
    "冬季棉被一床",
    "孩子的新书包",
    "老人的助听器",
    "一台电暖器",
    "春联和年货",
    "月饼和水果",
];
/// The micro-wishes of left-behind children in the drive before 七一.
const CHILDREN_WISHES: [&str; 4] = ["一套课外读物", "一双运动鞋", "一个新书包", "一盒彩笔和画本"];
const SERVICE_NEEDS: [&str; 5] = [
    "帮忙修缮漏雨屋顶",
    "陪同就医复查",
    "代购日常药品",
    "辅导孩子功课",
    "更换老旧电线",
];
const KINSHIP: [&str; 4] = ["奶奶", "爷爷", "大姐", "大哥"];
const HARDSHIPS: [&str; 4] = ["独居老人", "因病致困", "残疾人家庭", "留守儿童家庭"];
const CONCERNS: [(&str, &str); 3] = [
    ("housing", "房屋漏雨需要修缮"),
    ("health", "需要定期陪同就医"),
    ("income", "希望介绍就近务工"),
];

struct Member {
    id: Uuid,
    name: String,
    unit: usize,
    service: Option<usize>,
    joined_on: NaiveDate,
    /// Planned verified points, in hundredths, by the 2026 rules' rates.
    points: u64,
    feedback: bool,
}

impl Member {
    /// When the member is on the county's books this year.
    fn registered(&self, new_year: NaiveDate) -> NaiveDate {
        self.joined_on.max(new_year)
    }
}

/// The county's branches, by kind, and their secretaries.
struct Branches {
    /// Id, name and kind, in the order: units, services, temporaries.
    all: Vec<(Uuid, String, BranchKind)>,
    units: std::ops::Range<usize>,
    services: std::ops::Range<usize>,
    temporaries: std::ops::Range<usize>,
    /// The secretary of each branch that has one.
    secretary: HashMap<usize, Uuid>,
}

impl Branches {
    fn id(&self, b: usize) -> Uuid {
        self.all[b].0
    }

    /// Who acts for branch `b` on `member`: its secretary, unless that is the member.
    fn secretary_for(&self, b: usize, member: Uuid) -> Option<Who> {
        self.secretary
            .get(&b)
            .filter(|s| **s != member)
            .map(|s| Who::Secretary {
                branch: self.id(b),
                member: *s,
            })
    }

    /// Who acts for branch `b` on `member`: its secretary, or the committee.
    fn acting(&self, b: usize, member: Uuid) -> Who {
        self.secretary_for(b, member).unwrap_or(Who::Admin)
    }
}

/// A campaign the demo's hours may belong to: id, category, first and last day.
type Campaign = (Uuid, Category, NaiveDate, NaiveDate);

struct Planner {
    rng: ChaCha8Rng,
    steps: Vec<Step>,
    cal: Calendar,
    year: Year,
    census: Census,
    /// The clock of New Year's Day's commands, a second apart.
    tick: DateTime<Utc>,
}

/// The simulated year's calendar.
#[derive(Clone, Copy)]
struct Calendar {
    options: DemoOptions,
}

impl Calendar {
    /// The instant of `hour:minute` on `date` in the county.
    fn at(&self, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        let local = date.and_hms_opt(hour, minute, 0).unwrap_or_default();
        self.options
            .county_offset
            .from_local_datetime(&local)
            .single()
            .map_or_else(|| local.and_utc(), |t| t.to_utc())
    }

    fn date(&self, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.options.year, month, day.min(28)).unwrap_or_default()
    }

    fn day_of_year(&self, day: u32) -> NaiveDate {
        NaiveDate::from_yo_opt(self.options.year, day.clamp(1, 365)).unwrap_or_default()
    }

    fn new_year(&self) -> NaiveDate {
        self.date(1, 1)
    }
}

impl Planner {
    fn id(&mut self) -> Uuid {
        let bytes: [u8; 10] = self.rng.random();
        uuid::Builder::from_random_bytes({
            let mut b = [0u8; 16];
            b[..10].copy_from_slice(&bytes);
            b[10..].copy_from_slice(&self.rng.random::<[u8; 6]>());
            b
        })
        .into_uuid()
    }

    /// The next instant of New Year's Day's setting up.
    fn next(&mut self) -> DateTime<Utc> {
        self.tick += Duration::seconds(1);
        self.tick
    }

    fn push(&mut self, at: DateTime<Utc>, who: Who, command: impl Into<Command>) {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let key = uuid::Builder::from_unix_timestamp_millis(millis, &self.rng.random()).into_uuid();
        self.steps.push(Step {
            at,
            command: command.into(),
            key,
            who,
        });
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }
}

fn rules_for(year: Year) -> anyhow::Result<Value> {
    let mut rules: Value = toml::from_str(include_str!("../../../rules/2026.toml"))?;
    rules["year"] = year.get().into();
    Ok(rules)
}

/// Points per hour of `category` in hundredths, as the shipped rules set them (for the
/// opinions the demo's secretaries write: people rate, the read model shows the evidence).
fn rate(category: Category) -> u64 {
    match category {
        Category::Festival => 150,
        Category::CentralWork | Category::ReservoirResettlement => 200,
        _ => 100,
    }
}

/// The demo's commands for `options`: pure, the same for the same options. One function
/// per part of the county's year, in the order the year is planned (each draws from the
/// one seeded generator in turn).
pub fn plan(options: DemoOptions) -> anyhow::Result<Plan> {
    let cal = Calendar { options };
    let mut p = Planner {
        rng: ChaCha8Rng::seed_from_u64(options.seed),
        steps: Vec::new(),
        cal,
        year: Year::new(i64::from(options.year))?,
        census: Census::default(),
        tick: cal.at(cal.new_year(), 8, 0),
    };
    let at = p.next();
    let rules = AdoptRules {
        year: p.year,
        rules: rules_for(p.year)?,
    };
    p.push(at, Who::Admin, rules);
    let mut branches = p.branches();
    let campaigns = p.campaigns();
    let mut members = p.members(&branches, options.members);
    p.secretaries(&mut branches, &members);
    p.cards_and_feedback(&mut members);
    p.service_hours(&mut members, &branches, &campaigns);
    p.anniversaries_and_plaques(&members);
    p.wishes(&members, options.members);
    p.spring_clean_up(&mut members, &branches);
    p.branch_life(&members, &branches);
    p.households(&members, options.members);
    p.cards_signed(&members, &branches);
    p.year_end(&members, &branches, options.members);
    // Time order; on the same instant, the order planned.
    p.steps.sort_by_key(|s| s.at);
    Ok(Plan {
        steps: p.steps,
        census: p.census,
    })
}

impl Planner {
    /// The 40 unit branches, 15 service branches and 5 temporary branches.
    fn branches(&mut self) -> Branches {
        let mut all: Vec<(Uuid, String, BranchKind)> = Vec::new();
        for body in UNIT_BODIES {
            let name = if body.starts_with('县') {
                format!("{body}机关党支部")
            } else {
                format!("县{body}机关党支部")
            };
            all.push((self.id(), name, BranchKind::Unit));
        }
        for community in COMMUNITIES {
            all.push((
                self.id(),
                format!("{community}社区服务党支部"),
                BranchKind::Service,
            ));
        }
        for estate in TEMPORARY {
            all.push((
                self.id(),
                format!("{estate}小区临时党支部"),
                BranchKind::Temporary,
            ));
        }
        for (i, (id, name, kind)) in all.iter().enumerate() {
            let community = match kind {
                BranchKind::Service => Some(COMMUNITIES[i - UNIT_BODIES.len()]),
                BranchKind::Temporary => Some(TEMPORARY[i - UNIT_BODIES.len() - COMMUNITIES.len()]),
                BranchKind::Unit => None,
            };
            let at = self.next();
            let register = RegisterBranch {
                branch_id: Some(*id),
                name: name.clone(),
                kind: *kind,
                community: community.map(str::to_owned),
            };
            self.push(at, Who::Admin, register);
            *self.census.branches.entry(kind_name(*kind)).or_default() += 1;
        }
        let units = 0..UNIT_BODIES.len();
        let services = UNIT_BODIES.len()..UNIT_BODIES.len() + COMMUNITIES.len();
        let temporaries = services.end..all.len();
        Branches {
            all,
            units,
            services,
            temporaries,
            secretary: HashMap::new(),
        }
    }

    /// The year's campaigns, and the service street (党员服务一条街) each quarter in
    /// another township.
    fn campaigns(&mut self) -> Vec<Campaign> {
        let cal = self.cal;
        let campaigns = [
            (
                "水库移民搬迁安置",
                CampaignKind::Resettlement,
                Category::ReservoirResettlement,
                cal.date(3, 1),
                cal.date(6, 28),
            ),
            (
                "城乡环境大清扫",
                CampaignKind::Cleanup,
                Category::Cleanup,
                cal.date(4, 1),
                cal.date(10, 28),
            ),
            (
                "春节送温暖",
                CampaignKind::Festival,
                Category::Festival,
                cal.date(1, 15),
                cal.date(2, 28),
            ),
            (
                "中秋重阳关爱行动",
                CampaignKind::Festival,
                Category::Festival,
                cal.date(9, 1),
                cal.date(10, 28),
            ),
            (
                "美丽乡村建设",
                CampaignKind::CentralWork,
                Category::CentralWork,
                cal.date(5, 1),
                cal.date(11, 28),
            ),
        ];
        let streets = [
            ("城关镇", cal.date(1, 1), cal.date(3, 31)),
            ("河口镇", cal.date(4, 1), cal.date(6, 30)),
            ("青山乡", cal.date(7, 1), cal.date(9, 30)),
            ("石桥镇", cal.date(10, 1), cal.date(12, 28)),
        ]
        .map(|(township, starts, ends)| {
            (
                format!("{township}党员服务一条街"),
                CampaignKind::VillageStreet,
                Category::VillageServiceStreet,
                starts,
                ends,
            )
        });
        let mut launched = Vec::new();
        let all = campaigns
            .into_iter()
            .map(|(name, kind, category, starts, ends)| {
                (name.to_owned(), kind, category, starts, ends)
            })
            .chain(streets);
        for (name, kind, category, starts_on, ends_on) in all {
            let id = self.id();
            let at = self.next();
            let launch = LaunchCampaign {
                campaign_id: Some(id),
                name,
                kind,
                starts_on,
                ends_on,
            };
            self.push(at, Who::Admin, launch);
            launched.push((id, category, starts_on, ends_on));
        }
        launched
    }

    /// The members: most joined years ago; a few join during the year.
    fn members(&mut self, branches: &Branches, count: usize) -> Vec<Member> {
        let (units, services, temporaries) = (
            branches.units.clone(),
            branches.services.clone(),
            branches.temporaries.clone(),
        );
        let cal = self.cal;
        let mut members: Vec<Member> = Vec::new();
        for i in 0..count {
            let name = format!("{}{}", self.pick(&SURNAMES), self.pick(&GIVEN));
            // The first members fill every unit branch; then the larger bodies take more.
            let unit = if i < units.len() {
                i
            } else {
                let skewed = self.rng.random_range(0..units.len() * 3);
                (skewed * skewed / (units.len() * 9)).min(units.len() - 1)
            };
            let service = if i < units.len() {
                // The first member of each unit branch is its secretary: a service branch
                // too.
                Some(services.start + i % services.len())
            } else if i < units.len() + services.len() + temporaries.len() {
                Some(services.start + (i - units.len()) % (branches.all.len() - services.start))
            } else if self.chance(92) {
                Some(if self.chance(94) {
                    self.rng.random_range(services.clone())
                } else {
                    self.rng.random_range(temporaries.clone())
                })
            } else {
                None
            };
            let joined_on = if self.chance(3) && i >= branches.all.len() {
                cal.date(self.rng.random_range(2..=10), self.rng.random_range(1..=28))
            } else {
                NaiveDate::from_ymd_opt(
                    self.rng.random_range(1980..self.year.get()),
                    self.rng.random_range(1..=12),
                    self.rng.random_range(1..=28),
                )
                .unwrap_or_default()
            };
            members.push(Member {
                id: self.id(),
                name,
                unit,
                service,
                joined_on,
                points: 0,
                feedback: false,
            });
        }
        self.census.members = members.len();
        let new_year = cal.new_year();
        for m in &members {
            let day = m.registered(new_year);
            let at = if day == new_year {
                self.next()
            } else {
                cal.at(day, 9, 0)
            };
            let register = RegisterMember {
                member_id: Some(m.id),
                name: m.name.clone(),
                unit_branch_id: branches.id(m.unit),
                joined_on: m.joined_on,
                cadre: None,
            };
            self.push(at, Who::Admin, register);
            if let Some(s) = m.service {
                let assign = AssignServiceBranch {
                    member_id: m.id,
                    service_branch_id: branches.id(s),
                };
                self.push(at + Duration::seconds(1), Who::Centre, assign);
            }
        }
        members
    }

    /// Secretaries: the first member of each branch registered on New Year's Day.
    fn secretaries(&mut self, branches: &mut Branches, members: &[Member]) {
        let new_year = self.cal.new_year();
        for b in 0..branches.all.len() {
            let holder = members
                .iter()
                .filter(|m| m.registered(new_year) == new_year)
                .find(|m| m.unit == b || m.service == Some(b));
            if let Some(m) = holder {
                branches.secretary.insert(b, m.id);
                let at = self.next() + Duration::hours(1);
                let appoint = AppointSecretary {
                    branch_id: branches.id(b),
                    member_id: m.id,
                };
                self.push(at, Who::Admin, appoint);
            }
        }
    }

    /// Dual cards, issued on 2 January; community feedback each quarter.
    fn cards_and_feedback(&mut self, members: &mut [Member]) {
        let cal = self.cal;
        for m in members.iter_mut() {
            if m.service.is_none() {
                continue;
            }
            let issue_on = m.registered(cal.new_year()).max(cal.date(1, 2));
            let issue = IssueDualCard {
                member_id: Some(m.id),
                year: self.year,
                all_members: None,
            };
            self.push(cal.at(issue_on, 9, 30), Who::Admin, issue);
            for quarter in 1..=4u32 {
                // The fourth quarter's before the cards are signed in mid-December.
                let last_day = if quarter == 4 { 10 } else { 25 };
                let on = cal.date(quarter * 3, self.rng.random_range(1..=last_day));
                if on > issue_on && self.chance(70) {
                    m.feedback = true;
                    let feedback = RecordCommunityFeedback {
                        member_id: m.id,
                        year: self.year,
                        quarter,
                        note: format!("第{quarter}季度：积极参加社区志愿服务，群众反映良好"),
                    };
                    self.push(cal.at(on, 16, 0), Who::Centre, feedback);
                }
            }
        }
    }

    /// Service hours through the year, verified by the service-branch secretary (above 8
    /// hours by the committee), some rejected, some still waiting, a few corrected.
    fn service_hours(
        &mut self,
        members: &mut [Member],
        branches: &Branches,
        campaigns: &[Campaign],
    ) {
        let cal = self.cal;
        let weights: u32 = CATEGORIES.iter().map(|c| c.1).sum();
        for m in members.iter_mut() {
            let entries = match self.rng.random_range(0..10) {
                0 => 0,
                1..=2 => self.rng.random_range(1..6),
                _ => self.rng.random_range(6..24),
            };
            let mut booked: HashMap<NaiveDate, u32> = HashMap::new();
            let mut used: HashSet<(NaiveDate, &str)> = HashSet::new();
            let first = m.registered(cal.new_year()).ordinal() + 1;
            if first >= 350 {
                continue;
            }
            for _ in 0..entries {
                let date = cal.day_of_year(self.rng.random_range(first..350));
                let mut roll = self.rng.random_range(0..weights);
                let (category, _, activities) = CATEGORIES
                    .iter()
                    .find(|c| {
                        let hit = roll < c.1;
                        roll = roll.saturating_sub(c.1);
                        hit
                    })
                    .copied()
                    .unwrap_or(CATEGORIES[0]);
                let activity = *self.pick(activities);
                let half_hours: u32 = if self.chance(4) {
                    self.rng.random_range(17..=20)
                } else {
                    self.rng.random_range(2..=12)
                };
                let day = booked.entry(date).or_default();
                if *day + half_hours * 30 > 12 * 60 || !used.insert((date, activity)) {
                    continue;
                }
                *day += half_hours * 30;
                self.census.service_entries += 1;
                let record = self.id();
                let campaign = campaigns
                    .iter()
                    .find(|(_, c, s, e)| *c == category && (*s..=*e).contains(&date))
                    .map(|c| c.0);
                let channel = match self.rng.random_range(0..20) {
                    0..=11 => Channel::SelfReported,
                    12..=16 => Channel::Organiser,
                    _ => Channel::CheckIn,
                };
                let who = if channel == Channel::SelfReported {
                    Who::Member(m.id)
                } else {
                    Who::Centre
                };
                let hours = f64::from(half_hours) / 2.0;
                let minute = self.rng.random_range(0..60);
                let logged = LogServiceHours {
                    record_id: Some(record),
                    member_id: m.id,
                    date,
                    hours,
                    category,
                    activity: activity.to_owned(),
                    channel: Some(channel),
                    campaign_id: campaign,
                    start_time: None,
                    organising_branch_id: None,
                };
                self.push(cal.at(date, 20, minute), who, logged);
                // Above 8 hours only the committee verifies; else the service-branch
                // secretary.
                let verifier = match m.service {
                    Some(s) if half_hours <= 16 => branches.acting(s, m.id),
                    _ => Who::Admin,
                };
                let decided = cal.at(
                    date + Duration::days(self.rng.random_range(1..8)),
                    10,
                    self.rng.random_range(0..60),
                );
                match self.rng.random_range(0..100) {
                    0..=4 => {
                        let reject = RejectServiceHours {
                            record_id: record,
                            reason: "签到记录与申报时长不符".into(),
                        };
                        self.push(decided, verifier, reject);
                    }
                    5..=13 => {} // still waiting for its secretary
                    roll => {
                        self.push(decided, verifier, VerifyServiceHours { record_id: record });
                        let mut minutes = u64::from(half_hours) * 30;
                        if roll == 99 && half_hours <= 14 {
                            let correct = ApplyCorrection {
                                record_id: record,
                                hours: Some(hours + 1.0),
                                date: None,
                                category: None,
                                reason: "核对签到表后更正".into(),
                            };
                            self.push(decided + Duration::days(2), verifier, correct);
                            minutes += 60;
                        }
                        m.points += minutes * rate(category) / 60;
                    }
                }
            }
        }
    }

    /// Anniversaries, in the month each member joined; household plaques.
    fn anniversaries_and_plaques(&mut self, members: &[Member]) {
        let cal = self.cal;
        let year = self.year.get();
        for m in members {
            if m.joined_on.year() < year && self.chance(90) {
                let on = cal.date(m.joined_on.month(), m.joined_on.day());
                let observe = ObserveAnniversary {
                    member_id: m.id,
                    year: self.year,
                    reflection: format!(
                        "入党{}周年，重温入党誓词，牢记初心使命。",
                        year - m.joined_on.year()
                    ),
                };
                self.push(cal.at(on, 19, 0), Who::Member(m.id), observe);
            }
            if self.chance(70) {
                let on =
                    m.registered(cal.new_year()) + Duration::days(self.rng.random_range(1..60));
                let plaque = DisplayHouseholdPlaque { member_id: m.id };
                self.push(cal.at(on, 18, 0), Who::Member(m.id), plaque);
            }
        }
    }

    /// Wishes: festival micro-wishes around the Spring Festival and before 七一 (the drive
    /// for left-behind children), claimed within hours; service needs through the year;
    /// some never claimed.
    fn wishes(&mut self, members: &[Member], count: usize) {
        let cal = self.cal;
        let claimers: Vec<usize> = (0..members.len())
            .filter(|i| members[*i].service.is_some())
            .collect();
        let mut claims: HashMap<usize, u32> = HashMap::new();
        let wishes = (count / 8).max(10);
        self.census.wishes = wishes;
        for w in 0..wishes {
            let festival = w % 5 < 3;
            let (published, title, origin, category) = if festival {
                let (on, title) = if w % 2 == 0 {
                    (
                        cal.date(1, self.rng.random_range(18..=28)),
                        *self.pick(&MICRO_WISHES),
                    )
                } else {
                    (
                        cal.date(6, self.rng.random_range(20..=26)),
                        *self.pick(&CHILDREN_WISHES),
                    )
                };
                (
                    cal.at(on, 9, self.rng.random_range(0..60)),
                    title,
                    WishOrigin::MicroWish,
                    Category::Festival,
                )
            } else {
                let on = cal.day_of_year(self.rng.random_range(10..330));
                (
                    cal.at(on, 9, self.rng.random_range(0..60)),
                    *self.pick(&SERVICE_NEEDS),
                    WishOrigin::ServiceNeed,
                    Category::CommunityService,
                )
            };
            let id = self.id();
            let beneficiary = format!("{}{}", self.pick(&SURNAMES), self.pick(&KINSHIP));
            let contact = format!(
                "{}社区{}号",
                self.pick(&COMMUNITIES),
                self.rng.random_range(1..200)
            );
            let deadline = Timestamp::from_datetime(published + Duration::days(20));
            let publish = PublishWish {
                wish_id: Some(id),
                origin,
                title: title.to_owned(),
                beneficiary,
                beneficiary_contact: Some(contact),
                beneficiary_id: None,
                category,
                deadline,
                volunteers: None,
            };
            self.push(published, Who::Centre, publish);
            if self.chance(8) || claimers.is_empty() {
                continue; // never claimed
            }
            let mut claimed = published
                + if festival {
                    Duration::minutes(self.rng.random_range(20..240))
                } else {
                    Duration::minutes(self.rng.random_range(60..4000))
                };
            let mut claimer = None;
            for _ in 0..2 {
                let candidate = *self.pick(&claimers);
                let held = claims.entry(candidate).or_default();
                // A member claims once registered, and holds at most three claims a year.
                if *held >= 3
                    || cal.at(members[candidate].registered(cal.new_year()), 23, 59) >= claimed
                {
                    continue;
                }
                *held += 1;
                let member = members[candidate].id;
                let claim = ClaimWish {
                    wish_id: id,
                    member_id: member,
                };
                self.push(claimed, Who::Member(member), claim);
                if self.chance(5) {
                    claimed += Duration::hours(20);
                    let release = ReleaseWish {
                        wish_id: id,
                        member_id: member,
                    };
                    self.push(claimed, Who::Member(member), release);
                    claimed += Duration::hours(2);
                    continue;
                }
                claimer = Some(member);
                break;
            }
            let Some(member) = claimer else { continue };
            let fulfilled = claimed + Duration::hours(self.rng.random_range(4..60));
            let fulfil = FulfilWish {
                wish_id: id,
                evidence: "已送达，受助人签字确认".into(),
                member_id: None,
            };
            self.push(fulfilled, Who::Member(member), fulfil);
            if self.chance(90) {
                let confirmed = fulfilled + Duration::hours(self.rng.random_range(2..30));
                self.push(confirmed, Who::Centre, ConfirmWish { wish_id: id });
            }
        }
    }

    /// The Spring Festival clean-up: each service branch organises it on one day of late
    /// January, records who came and enters their hours itself (the organiser's record of
    /// a mass event; the committee verifies them against the sign-in sheet).
    fn spring_clean_up(&mut self, members: &mut [Member], branches: &Branches) {
        let cal = self.cal;
        for b in branches.services.clone() {
            let Some(&holder) = branches.secretary.get(&b) else {
                continue;
            };
            let on = cal.date(1, self.rng.random_range(20..=27));
            let came: Vec<Uuid> = members
                .iter()
                .filter(|m| m.service == Some(b) && m.registered(cal.new_year()) <= on)
                .map(|m| m.id)
                .filter(|_| self.chance(70))
                .collect();
            if came.is_empty() {
                continue;
            }
            let organiser = Who::Secretary {
                branch: branches.id(b),
                member: holder,
            };
            let activity = RecordBranchActivity {
                branch_id: branches.id(b),
                date: on,
                topic: "春节环境大扫除".into(),
                attendees: came.clone(),
            };
            self.push(cal.at(on, 12, 0), organiser, activity);
            // A secretary's own hours are self-reported: the organiser enters the others'.
            let entered: Vec<Uuid> = came.iter().copied().filter(|m| *m != holder).collect();
            for &member_id in &entered {
                let record = self.id();
                self.census.service_entries += 1;
                let logged = LogServiceHours {
                    record_id: Some(record),
                    member_id,
                    date: on,
                    hours: 3.0,
                    category: Category::Cleanup,
                    activity: "春节环境大扫除".into(),
                    channel: Some(Channel::Organiser),
                    campaign_id: None,
                    start_time: None,
                    organising_branch_id: None,
                };
                self.push(cal.at(on, 18, 0), organiser, logged);
                let verify = VerifyServiceHours { record_id: record };
                self.push(cal.at(on + Duration::days(2), 10, 0), Who::Admin, verify);
            }
            for m in members.iter_mut().filter(|m| entered.contains(&m.id)) {
                m.points += 3 * rate(Category::Cleanup);
            }
        }
    }

    /// Branch life: meetings each month, a few activities, the unit branches' quiz, and
    /// some demonstration sites.
    fn branch_life(&mut self, members: &[Member], branches: &Branches) {
        let cal = self.cal;
        for b in 0..branches.all.len() {
            let Some(holder) = branches.secretary.get(&b).copied() else {
                continue;
            };
            let branch_id = branches.id(b);
            let who = Who::Secretary {
                branch: branch_id,
                member: holder,
            };
            // Who came, by name: most of the branch's members registered by then.
            let own: Vec<(Uuid, NaiveDate)> = members
                .iter()
                .filter(|m| m.unit == b || m.service == Some(b))
                .map(|m| (m.id, m.registered(cal.new_year())))
                .collect();
            let by = |on: NaiveDate| own.iter().filter(move |(_, r)| *r <= on).map(|(id, _)| *id);
            for month in 1..=12 {
                if self.chance(88) {
                    let on = cal.date(month, self.rng.random_range(5..=15));
                    let came: Vec<Uuid> = by(on).filter(|_| self.chance(85)).collect();
                    let meeting = RecordBranchMeeting {
                        branch_id,
                        date: on,
                        topic: format!("{month}月主题党日：学习贯彻会议精神"),
                        attendees: came,
                    };
                    self.push(cal.at(on, 15, 0), who, meeting);
                }
            }
            for _ in 0..self.rng.random_range(3..7) {
                let on = cal.day_of_year(self.rng.random_range(20..345));
                let came: Vec<Uuid> = by(on).filter(|_| self.chance(60)).collect();
                let activity = RecordBranchActivity {
                    branch_id,
                    date: on,
                    topic: "进社区开展志愿服务".into(),
                    attendees: came,
                };
                self.push(cal.at(on, 14, 0), who, activity);
            }
            if branches.units.contains(&b) {
                let contestant = members
                    .iter()
                    .find(|m| m.unit == b)
                    .map(|m| m.id)
                    .unwrap_or(holder);
                let quiz = RecordQuizResult {
                    branch_id,
                    year: self.year,
                    contestant_id: contestant,
                    score: self.rng.random_range(55..=100),
                };
                self.push(cal.at(cal.date(7, 1), 10, 0), Who::Admin, quiz);
            }
            if self.chance(10) {
                let level =
                    *self.pick(&[SiteLevel::County, SiteLevel::Township, SiteLevel::Village]);
                let site = DesignateDemonstrationSite {
                    branch_id,
                    year: self.year,
                    level,
                };
                self.push(cal.at(cal.date(6, 28), 10, 0), Who::Admin, site);
            }
        }
    }

    /// Households in need, each paired with a cadre who visits most months.
    fn households(&mut self, members: &[Member], count: usize) {
        let cal = self.cal;
        let households = (count / 25).max(3);
        self.census.households = households;
        for _ in 0..households {
            let id = self.id();
            let area = format!("{}社区", self.pick(&COMMUNITIES));
            let hardship = *self.pick(&HARDSHIPS);
            let registered_on = cal.date(1, self.rng.random_range(3..=10));
            let register = RegisterHousehold {
                household_id: Some(id),
                address_area: area,
                hardship: hardship.to_owned(),
            };
            self.push(cal.at(registered_on, 9, 0), Who::Centre, register);
            let Some(cadre) = members
                .get(self.rng.random_range(0..members.len().max(1)))
                .filter(|m| m.registered(cal.new_year()) == cal.new_year())
            else {
                continue;
            };
            let cadre = cadre.id;
            let pair = PairHousehold {
                household_id: id,
                cadre_id: cadre,
            };
            self.push(cal.at(registered_on, 10, 0), Who::Centre, pair);
            for month in 2..=12 {
                if self.chance(80) {
                    let on = cal.date(month, self.rng.random_range(1..=28));
                    let visit = RecordVisit {
                        household_id: id,
                        date: on,
                        notes: "入户走访，了解近况并帮助解决实际困难".into(),
                    };
                    self.push(cal.at(on, 16, 30), Who::Member(cadre), visit);
                }
            }
            if self.chance(35) {
                let (category, description) = *self.pick(&CONCERNS);
                let raised = cal.at(cal.date(self.rng.random_range(2..=10), 12), 17, 0);
                let raise = RaiseConcern {
                    household_id: id,
                    category: category.to_owned(),
                    description: description.to_owned(),
                };
                self.push(raised, Who::Member(cadre), raise);
                // The concern's id is the id of the command that raised it.
                let concern = self.steps.last().map(|s| s.key).unwrap_or_default();
                let resolved = raised + Duration::days(self.rng.random_range(5..20));
                let resolve = ResolveConcern {
                    household_id: id,
                    concern_id: concern,
                    resolution: "已协调相关部门解决".into(),
                };
                self.push(resolved, Who::Centre, resolve);
            }
        }
    }

    /// December: each side of the card written by its own branch from its own record —
    /// the community from what it saw of the member (feedback, service) with stars, the
    /// unit from the year at work — by the secretary, or, for a secretary's own card, by
    /// the committee. Then the unit branch's appraisal after its democratic appraisal,
    /// citing the log as the appraisers saw it (the runner fills in `basis_position`); a
    /// few branches appraise against the evidence, which the assessment then names.
    fn cards_signed(&mut self, members: &[Member], branches: &Branches) {
        let cal = self.cal;
        for m in members {
            let Some(s) = m.service else { continue };
            // Each side reads the year by the points the rules expect; the community holds
            // back where it saw the member too little to write feedback.
            let by_points = match m.points {
                p if p >= 6000 => Rating::Excellent,
                p if p >= 4000 => Rating::Qualified,
                p if p >= 2000 => Rating::BasicallyQualified,
                _ => Rating::Unqualified,
            };
            let community = match (m.feedback, by_points) {
                (false, Rating::Excellent | Rating::Qualified) => Rating::BasicallyQualified,
                (_, opinion) => opinion,
            };
            let unit = by_points;
            let on = cal.date(12, self.rng.random_range(15..=24));
            if m.feedback {
                let stars = if m.points >= 4000 {
                    5
                } else {
                    3 + u32::from(m.points >= 2000)
                };
                let award = AwardStars {
                    member_id: m.id,
                    year: self.year,
                    stars,
                    reason: "社区志愿服务表现".into(),
                };
                self.push(cal.at(on, 10, 30), branches.acting(s, m.id), award);
            }
            let sign = |side, opinion, remarks: &str| SignDualCard {
                member_id: m.id,
                year: self.year,
                side,
                opinion,
                remarks: remarks.to_owned(),
            };
            let community = sign(
                Side::Community,
                community,
                "在社区积极参加志愿服务，群众认可",
            );
            let unit_side = sign(Side::Unit, unit, "履职尽责，工作表现良好");
            self.push(cal.at(on, 11, 0), branches.acting(s, m.id), community);
            self.push(cal.at(on, 11, 30), branches.acting(m.unit, m.id), unit_side);
            let rating = if self.chance(3) {
                Rating::Excellent
            } else {
                unit
            };
            let on = on + Duration::days(2);
            let appraisal = RecordAppraisal {
                member_id: m.id,
                year: self.year,
                rating,
                basis_position: 0,
                remarks: "经支部民主评议".into(),
            };
            self.push(cal.at(on, 15, 0), branches.acting(m.unit, m.id), appraisal);
        }
    }

    /// The year's end in the branches: a few members change posts or retire, and a
    /// secretary post falls vacant — after their year's record is written.
    fn year_end(&mut self, members: &[Member], branches: &Branches, count: usize) {
        let cal = self.cal;
        let movers: Vec<&Member> = members
            .iter()
            .filter(|m| !branches.secretary.values().any(|s| *s == m.id))
            .filter(|m| m.service.is_some())
            .take(count / 100 + 2)
            .collect();
        if let Some((retiree, movers)) = movers.split_first() {
            for m in movers {
                let to = (m.unit + 1) % branches.units.len();
                let transfer = TransferMember {
                    member_id: m.id,
                    unit_branch_id: branches.id(to),
                    on: cal.date(12, 29),
                };
                self.push(cal.at(cal.date(12, 29), 9, 0), Who::Admin, transfer);
            }
            let left = MemberLeft {
                member_id: retiree.id,
                reason: LeaveReason::Retired,
                on: cal.date(12, 30),
            };
            self.push(cal.at(cal.date(12, 30), 9, 0), Who::Admin, left);
        }
        if branches.secretary.contains_key(&branches.units.start) {
            let vacate = VacateSecretary {
                branch_id: branches.id(branches.units.start),
            };
            self.push(cal.at(cal.date(12, 31), 9, 0), Who::Admin, vacate);
        }
    }
}

/// A kind's name in the census.
fn kind_name(kind: BranchKind) -> &'static str {
    match kind {
        BranchKind::Unit => "unit",
        BranchKind::Service => "service",
        BranchKind::Temporary => "temporary",
    }
}

/// The principal each issuer's signed token names.
struct Tokens<'a> {
    key: &'a TokenKey,
    cache: HashMap<Who, Principal>,
}

impl Tokens<'_> {
    fn principal(&mut self, who: Who) -> anyhow::Result<Principal> {
        if let Some(p) = self.cache.get(&who) {
            return Ok(p.clone());
        }
        let (sub, role, member, branch) = match who {
            Who::Admin => (
                "county-committee-office".to_owned(),
                "committee_admin",
                None,
                None,
            ),
            Who::Centre => (
                "county-service-centre".to_owned(),
                "service_centre",
                None,
                None,
            ),
            Who::Member(m) => (m.to_string(), "member", Some(m), None),
            Who::Secretary { branch, member } => {
                (member.to_string(), "secretary", Some(member), Some(branch))
            }
        };
        let iat = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let token = self.key.issue(&Claims {
            sub,
            role: role.to_owned(),
            member,
            branch,
            iat,
            exp: iat + 24 * 3600,
            jti: None,
        })?;
        let principal = self.key.verify(&token)?;
        self.cache.insert(who, principal.clone());
        Ok(principal)
    }
}

/// Keys and nonces drawn from `seed`, for a service that must write the same log on
/// every run: the beneficiaries of a demo county are invented, so their keys may be
/// predictable; a real county's never are (the default draws from the operating system).
pub fn entropy(seed: u64) -> allweather_command::Entropy {
    use rand::RngCore as _;
    let rng = std::sync::Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x6b65_7973));
    Arc::new(move |bytes| {
        rng.lock()
            .map_err(|_| anyhow::anyhow!("the demo's key generator was poisoned"))?
            .fill_bytes(bytes);
        Ok(())
    })
}

/// Sends `plan` through `service`, each command at its time on `clock`, telling
/// `on_step` how many are done.
pub async fn run(
    service: &CommandService,
    key: &TokenKey,
    plan: &Plan,
    clock: &SimClock,
    mut on_step: impl FnMut(usize),
) -> anyhow::Result<Outcome> {
    let mut tokens = Tokens {
        key,
        cache: HashMap::new(),
    };
    let mut outcome = Outcome::default();
    for (i, step) in plan.steps.iter().enumerate() {
        clock.set(step.at);
        let principal = tokens.principal(step.who)?;
        let key = step.key.to_string();
        let mut command = step.command.clone();
        if let Command::RecordAppraisal(appraisal) = &mut command {
            // An appraisal cites the log as the appraisers see it when it is recorded. On
            // a rerun the head has moved on: an appraisal already recorded stands as it
            // was (sending it with today's head would be another request under its key).
            let command_id = allweather_command::command_id(&principal.subject, &key)?;
            if service.log().recorded(command_id).await?.is_some() {
                outcome.accepted += 1;
                on_step(i + 1);
                continue;
            }
            appraisal.basis_position = service.log().known_head();
        }
        let name = command.name();
        match service.submit(&principal, command, Some(&key)).await {
            Ok(_) => outcome.accepted += 1,
            Err(e @ (CommandError::Internal(_) | CommandError::Unavailable(_))) => {
                anyhow::bail!("{name} failed: {e}");
            }
            Err(e) => {
                let rule = match &e {
                    CommandError::Refused(refusal) => refusal.rule.name(),
                    other => other.code(),
                };
                let entry = outcome
                    .refused
                    .entry(format!("{name} {rule}"))
                    .or_insert_with(|| (0, e.to_string()));
                entry.0 += 1;
            }
        }
        on_step(i + 1);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64) -> DemoOptions {
        DemoOptions {
            members: 120,
            seed,
            year: 2025,
            county_offset: FixedOffset::east_opt(8 * 3600).expect("offset"),
        }
    }

    #[test]
    fn the_same_seed_plans_the_same_county_and_another_seed_another() {
        let a = plan(options(7)).expect("plan");
        let b = plan(options(7)).expect("plan");
        let c = plan(options(8)).expect("plan");
        let keys = |p: &Plan| {
            p.steps
                .iter()
                .map(|s| (s.key, s.command.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&a), keys(&b));
        assert_ne!(keys(&a), keys(&c));
        assert_eq!(a.census.members, 120);
        assert_eq!(a.census.branches.values().sum::<usize>(), 60);
    }

    #[test]
    fn the_plan_is_in_time_order_within_its_year() {
        let plan = plan(options(1)).expect("plan");
        assert!(plan.steps.windows(2).all(|w| w[0].at <= w[1].at));
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        assert!(
            plan.steps
                .iter()
                .all(|s| s.at.with_timezone(&offset).year() == 2025)
        );
        let names: HashSet<&str> = plan.steps.iter().map(|s| s.command.name()).collect();
        for name in [
            "RegisterMember",
            "LogServiceHours",
            "VerifyServiceHours",
            "ClaimWish",
            "ConfirmWish",
            "SignDualCard",
            "RecordVisit",
            "ObserveAnniversary",
        ] {
            assert!(names.contains(name), "the plan has {name}");
        }
    }
}
