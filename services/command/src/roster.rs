//! A county's roster, from the spreadsheet it already keeps — one `.xlsx` with sheets
//! `branches` and `members` (or `支部` and `党员`), or `branches.csv` and `members.csv` —
//! with English or Chinese column names; read by `allweather import roster` and by the
//! upload on the committee's page, the same way.
//!
//! Every row is read and checked first ([`plan`]); each problem names
//! `FILE:ROW: COLUMN: message` (ROW as the spreadsheet numbers it, the header being row
//! 1), and with any problem nothing is sent. [`import`] sends the commands a row stands
//! for (a branch: `RegisterBranch`; a member: `RegisterMember`, then
//! `AssignServiceBranch` and `AppointSecretary` where the row says so), each with its id
//! and idempotency key derived from what the row says (a branch from its name, a member
//! from name, unit branch and joining date): a second run of the same roster, or of the
//! roster with rows added or moved, appends nothing for rows already imported. A branch
//! or member registered before, by hand, under the same name (and unit branch and joining
//! date) is taken as the row's, not registered again.

use crate::{CommandError, CommandService};
use allweather_domain::branch::Branch;
use allweather_domain::command::{
    AppointSecretary, AssignServiceBranch, RegisterBranch, RegisterMember,
};
use allweather_domain::member::Member;
use allweather_domain::values::BranchKind;
use allweather_domain::world::streams;
use allweather_domain::{Command, Event, Principal};
use allweather_events::StreamId;
use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The namespace of the ids the import derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a57_8d0e_4b3a_9c61_52e4_a0b7_d3f9);

/// One row of a sheet: where it is, and its cells by column.
#[derive(Debug, Clone)]
struct Row {
    file: String,
    row: usize,
    cells: HashMap<&'static str, String>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.cells.get(column).map_or("", |v| v.trim())
    }
}

/// A problem with a row: shown as `FILE:ROW: COLUMN: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (and sheet).
    pub file: String,
    /// The row, as the spreadsheet numbers it.
    pub row: usize,
    /// The column.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.row, self.column, self.message
        )
    }
}

/// A sheet's columns: (canonical name, its Chinese name, required).
const BRANCH_COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "名称", true),
    ("kind", "类型", true),
    ("community", "社区", false),
];
const MEMBER_COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "姓名", true),
    ("unit_branch", "单位支部", true),
    ("service_branch", "服务支部", false),
    ("joined_on", "入党日期", true),
    ("cadre", "领导干部", false),
    ("secretary_of", "任书记", false),
];

/// A sheet as read: its name for messages, its header and its rows of text.
struct Sheet {
    file: String,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

/// A roster as read: its rows by column, and the problems of its sheets' headers.
#[derive(Debug)]
pub struct Roster {
    branches: Vec<Row>,
    members: Vec<Row>,
    header_problems: Vec<Problem>,
}

impl Roster {
    /// Reads the roster's two sheets from `files`, each its name (as problems will name
    /// it) and content: one `.xlsx`, or `branches.csv` and `members.csv`.
    pub fn read(files: &[(String, Vec<u8>)]) -> anyhow::Result<Roster> {
        let (branch_sheet, member_sheet) = match files {
            [(name, bytes)] if has_extension(name, "xlsx") => read_workbook(name, bytes)?,
            _ if files.iter().all(|(name, _)| has_extension(name, "csv")) => {
                let named = |wanted: &str| {
                    files
                        .iter()
                        .find(|(name, _)| {
                            std::path::Path::new(name)
                                .file_name()
                                .is_some_and(|n| n == wanted)
                        })
                        .with_context(|| format!("no {wanted} among the files"))
                };
                let (branches, members) = (named("branches.csv")?, named("members.csv")?);
                (
                    read_csv(&branches.0, &branches.1)?,
                    read_csv(&members.0, &members.1)?,
                )
            }
            _ => bail!("give one .xlsx file, or branches.csv and members.csv"),
        };
        let (branches, mut header_problems) = rows_of(&branch_sheet, BRANCH_COLUMNS);
        let (members, member_header) = rows_of(&member_sheet, MEMBER_COLUMNS);
        header_problems.extend(member_header);
        Ok(Roster {
            branches,
            members,
            header_problems,
        })
    }

    /// How many branch rows it has.
    pub fn branch_rows(&self) -> usize {
        self.branches.len()
    }

    /// How many member rows it has.
    pub fn member_rows(&self) -> usize {
        self.members.len()
    }
}

fn has_extension(name: &str, extension: &str) -> bool {
    std::path::Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

fn read_csv(file: &str, bytes: &[u8]) -> anyhow::Result<Sheet> {
    let file = file.to_owned();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.records();
    let header = match records.next() {
        Some(h) => h.with_context(|| format!("read {file}"))?,
        None => bail!("{file} is empty: it needs a header row"),
    };
    let header = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let record = record.with_context(|| format!("read {file} at row {}", i + 2))?;
        rows.push((i + 2, record.iter().map(str::to_owned).collect()));
    }
    Ok(Sheet { file, header, rows })
}

fn read_workbook(display: &str, bytes: &[u8]) -> anyhow::Result<(Sheet, Sheet)> {
    use calamine::{Data, Reader as _};
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .with_context(|| format!("open {display}: not an .xlsx workbook"))?;
    let names = book.sheet_names().to_owned();
    let mut sheet = |wanted: [&str; 2]| -> anyhow::Result<Sheet> {
        let name = names
            .iter()
            .find(|n| wanted.contains(&n.trim()))
            .with_context(|| format!("{display} has no sheet {} (or {})", wanted[0], wanted[1]))?
            .clone();
        let range = book
            .worksheet_range(&name)
            .with_context(|| format!("read sheet {name} of {display}"))?;
        let first = range.start().map_or(0, |(row, _)| row as usize);
        let text = |cell: &Data| match cell {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Data::DateTime(d) => {
                let (y, m, day, ..) = d.to_ymd_hms_milli();
                format!("{y:04}-{m:02}-{day:02}")
            }
            Data::Error(e) => format!("#{e:?}"),
        };
        let mut rows = range.rows().enumerate();
        let header = rows
            .next()
            .map(|(_, r)| r.iter().map(|c| text(c).trim().to_owned()).collect())
            .with_context(|| {
                format!("sheet {name} of {display} is empty: it needs a header row")
            })?;
        let rows = rows
            .map(|(i, r)| (first + i + 1, r.iter().map(text).collect()))
            .collect();
        Ok(Sheet {
            file: format!("{display}[{name}]"),
            header,
            rows,
        })
    };
    Ok((sheet(["branches", "支部"])?, sheet(["members", "党员"])?))
}

/// The sheet's rows by column, and the problems of its header.
fn rows_of(sheet: &Sheet, columns: &[(&'static str, &str, bool)]) -> (Vec<Row>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut index: Vec<Option<&'static str>> = Vec::new();
    for (i, h) in sheet.header.iter().enumerate() {
        let known = columns
            .iter()
            .find(|(en, zh, _)| h.eq_ignore_ascii_case(en) || h == zh)
            .map(|(en, _, _)| *en);
        if known.is_none() && !h.is_empty() {
            problems.push(Problem {
                file: sheet.file.clone(),
                row: 1,
                column: h.clone(),
                message: format!("an unknown column (column {})", i + 1),
            });
        }
        index.push(known);
    }
    for (en, zh, required) in columns {
        if *required && !index.contains(&Some(*en)) {
            problems.push(Problem {
                file: sheet.file.clone(),
                row: 1,
                column: (*en).to_owned(),
                message: format!("the column {en} (or {zh}) is missing"),
            });
        }
    }
    let rows = sheet
        .rows
        .iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .map(|(row, cells)| Row {
            file: sheet.file.clone(),
            row: *row,
            cells: index
                .iter()
                .zip(cells)
                .filter_map(|(column, value)| column.map(|c| (c, value.clone())))
                .collect(),
        })
        .collect();
    (rows, problems)
}

/// A branch the roster names, or the log holds.
#[derive(Debug, Clone)]
struct BranchPlan {
    id: Uuid,
    kind: BranchKind,
    /// Its registration, when the log does not hold it yet.
    register: Option<RegisterBranch>,
}

/// What a member row sends.
#[derive(Debug, Clone)]
struct MemberPlan {
    id: Uuid,
    register: Option<RegisterMember>,
    service_branch: Option<Uuid>,
    secretary_of: Option<Uuid>,
}

/// What the log already holds: branches by name, members by (name, unit branch, date).
#[derive(Debug, Default)]
pub struct Registered {
    branches: HashMap<String, (Uuid, BranchKind)>,
    members: HashMap<(String, Uuid, NaiveDate), Uuid>,
}

/// The branches and members the log of `service` holds.
pub async fn registered(service: &CommandService) -> anyhow::Result<Registered> {
    let log = service.log();
    let mut found = Registered::default();
    let fold = |stream: StreamId| async move {
        let envelopes = log.read_stream(&stream, 0, 10_000).await?;
        let mut events = Vec::new();
        for e in &envelopes {
            let payload = service.catalog().decode(e)?;
            events.push(Event::from_stored(&e.event_type, payload)?);
        }
        anyhow::Ok(events)
    };
    for id in log.stream_ids("branch").await? {
        let Ok(uuid) = id.parse::<Uuid>() else {
            continue;
        };
        let mut branch = Branch::default();
        for e in fold(streams::branch(uuid)).await? {
            branch.apply(&e);
        }
        if let (true, Some(kind)) = (branch.registered, branch.kind) {
            found.branches.insert(branch.name.clone(), (uuid, kind));
        }
    }
    for id in log.stream_ids("member").await? {
        let Ok(uuid) = id.parse::<Uuid>() else {
            continue;
        };
        let mut member = Member::default();
        for e in fold(streams::member(uuid)).await? {
            member.apply(&e);
        }
        if let (true, Some(unit), Some(joined)) =
            (member.registered, member.unit_branch, member.joined_on)
        {
            found
                .members
                .insert((member.name.clone(), unit, joined), uuid);
        }
    }
    Ok(found)
}

fn kind_of(text: &str) -> Option<BranchKind> {
    match text.to_lowercase().as_str() {
        "unit" | "机关" => Some(BranchKind::Unit),
        "service" | "服务" => Some(BranchKind::Service),
        "temporary" | "临时" => Some(BranchKind::Temporary),
        _ => None,
    }
}

fn yes_no(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "" | "no" | "否" | "n" | "false" => Some(false),
        "yes" | "是" | "y" | "true" => Some(true),
        _ => None,
    }
}

/// What a roster sends: the branches by name (registered or to register) and what each
/// member row sends.
#[derive(Debug)]
pub struct Plan {
    branches: BTreeMap<String, BranchPlan>,
    members: Vec<MemberPlan>,
}

impl Plan {
    /// How many branches it registers.
    pub fn new_branches(&self) -> usize {
        self.branches
            .values()
            .filter(|b| b.register.is_some())
            .count()
    }

    /// How many members it registers.
    pub fn new_members(&self) -> usize {
        self.members.iter().filter(|m| m.register.is_some()).count()
    }
}

/// Checks every row of `roster` against itself and what the log holds (`known`); the
/// plan, or every problem (a header's first, and alone: they make every row's reading
/// doubtful).
pub fn plan(roster: &Roster, known: &Registered, today: NaiveDate) -> Result<Plan, Vec<Problem>> {
    if !roster.header_problems.is_empty() {
        return Err(roster.header_problems.clone());
    }
    let (branch_rows, member_rows) = (&roster.branches, &roster.members);
    let mut problems = Vec::new();
    let mut problem = |row: &Row, column: &str, message: String| {
        problems.push(Problem {
            file: row.file.clone(),
            row: row.row,
            column: column.to_owned(),
            message,
        });
    };
    let mut branches: BTreeMap<String, BranchPlan> = known
        .branches
        .iter()
        .map(|(name, (id, kind))| {
            (
                name.clone(),
                BranchPlan {
                    id: *id,
                    kind: *kind,
                    register: None,
                },
            )
        })
        .collect();
    let mut seen = HashMap::new();
    for row in branch_rows {
        let name = row.get("name").to_owned();
        if name.is_empty() {
            problem(row, "name", "a branch needs a name".into());
            continue;
        }
        if let Some(first) = seen.insert(name.clone(), row.row) {
            problem(
                row,
                "name",
                format!("{name:?} is named again (first on row {first})"),
            );
            continue;
        }
        let Some(kind) = kind_of(row.get("kind")) else {
            problem(
                row,
                "kind",
                format!(
                    "{:?} is not a kind: unit, service or temporary (机关, 服务, 临时)",
                    row.get("kind")
                ),
            );
            continue;
        };
        let community = row.get("community");
        if kind != BranchKind::Unit && community.is_empty() {
            problem(
                row,
                "community",
                "a service or temporary branch names its community".into(),
            );
            continue;
        }
        if let Some(existing) = branches.get(&name) {
            if existing.kind != kind {
                problem(
                    row,
                    "kind",
                    format!("branch {name:?} is already registered as another kind"),
                );
            }
            continue;
        }
        let id = Uuid::new_v5(&NAMESPACE, format!("branch\0{name}").as_bytes());
        branches.insert(
            name.clone(),
            BranchPlan {
                id,
                kind,
                register: Some(RegisterBranch {
                    branch_id: Some(id),
                    name,
                    kind,
                    community: (!community.is_empty()).then(|| community.to_owned()),
                }),
            },
        );
    }
    let mut members = Vec::new();
    let mut seen_members = HashMap::new();
    for row in member_rows {
        let name = row.get("name").to_owned();
        if name.is_empty() {
            problem(row, "name", "a member needs a name".into());
        }
        let branch = |column: &str, kinds: &[BranchKind]| -> Result<Option<Uuid>, String> {
            let named = row.get(column);
            if named.is_empty() {
                return Ok(None);
            }
            match branches.get(named) {
                None => Err(format!("no branch {named:?} in the roster or the log")),
                Some(b) if !kinds.contains(&b.kind) => Err(format!(
                    "branch {named:?} is not of the kind this column takes"
                )),
                Some(b) => Ok(Some(b.id)),
            }
        };
        let unit = match branch("unit_branch", &[BranchKind::Unit]) {
            Ok(Some(unit)) => Some(unit),
            Ok(None) => {
                problem(row, "unit_branch", "a member needs a unit branch".into());
                None
            }
            Err(e) => {
                problem(row, "unit_branch", e);
                None
            }
        };
        let service = match branch(
            "service_branch",
            &[BranchKind::Service, BranchKind::Temporary],
        ) {
            Ok(service) => service,
            Err(e) => {
                problem(row, "service_branch", e);
                None
            }
        };
        let secretary_of = match branch(
            "secretary_of",
            &[BranchKind::Unit, BranchKind::Service, BranchKind::Temporary],
        ) {
            Ok(Some(b)) if Some(b) != unit && Some(b) != service => {
                problem(row, "secretary_of", "a secretary is a member of the branch they lead (its unit or service branch here)".into());
                None
            }
            Ok(b) => b,
            Err(e) => {
                problem(row, "secretary_of", e);
                None
            }
        };
        let joined_on = match NaiveDate::parse_from_str(row.get("joined_on"), "%Y-%m-%d") {
            Ok(d) if d <= today => Some(d),
            Ok(d) => {
                problem(row, "joined_on", format!("{d} is in the future"));
                None
            }
            Err(_) => {
                problem(
                    row,
                    "joined_on",
                    format!("{:?} is not a date (YYYY-MM-DD)", row.get("joined_on")),
                );
                None
            }
        };
        let Some(cadre) = yes_no(row.get("cadre")) else {
            problem(
                row,
                "cadre",
                format!(
                    "{:?} is not yes or no (是, 否; empty is no)",
                    row.get("cadre")
                ),
            );
            continue;
        };
        let (Some(unit), Some(joined_on), false) = (unit, joined_on, name.is_empty()) else {
            continue;
        };
        let identity = (name.clone(), unit, joined_on);
        if let Some(first) = seen_members.insert(identity.clone(), row.row) {
            problem(row, "name", format!("the same member as on row {first}"));
            continue;
        }
        let (id, register) = match known.members.get(&identity) {
            Some(id) => (*id, None),
            None => {
                let id = Uuid::new_v5(
                    &NAMESPACE,
                    format!("member\0{name}\0{unit}\0{joined_on}").as_bytes(),
                );
                let register = RegisterMember {
                    member_id: Some(id),
                    name,
                    unit_branch_id: unit,
                    joined_on,
                    cadre: Some(cadre),
                };
                (id, Some(register))
            }
        };
        members.push(MemberPlan {
            id,
            register,
            service_branch: service,
            secretary_of,
        });
    }
    if problems.is_empty() {
        Ok(Plan { branches, members })
    } else {
        Err(problems)
    }
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// Events appended.
    pub appended: u64,
    /// The log's head after it.
    pub head: u64,
    /// Each command refused, as a sentence.
    pub refused: Vec<String>,
}

/// Sends the commands of `plan` as `principal` (a committee admin), each with the
/// idempotency key its row's content gives.
pub async fn import(
    service: &CommandService,
    principal: &Principal,
    plan: &Plan,
) -> Result<Imported, CommandError> {
    let mut commands: Vec<(String, Command)> = Vec::new();
    for b in plan.branches.values() {
        if let Some(register) = &b.register {
            commands.push((format!("roster-branch-{}", b.id), register.clone().into()));
        }
    }
    for m in &plan.members {
        if let Some(register) = &m.register {
            commands.push((format!("roster-member-{}", m.id), register.clone().into()));
        }
        if let Some(service_branch_id) = m.service_branch {
            commands.push((
                format!("roster-service-{}-{service_branch_id}", m.id),
                AssignServiceBranch {
                    member_id: m.id,
                    service_branch_id,
                }
                .into(),
            ));
        }
        if let Some(branch_id) = m.secretary_of {
            commands.push((
                format!("roster-secretary-{branch_id}-{}", m.id),
                AppointSecretary {
                    branch_id,
                    member_id: m.id,
                }
                .into(),
            ));
        }
    }
    let log = service.log();
    let before = log.head().await?.position;
    let mut refused = Vec::new();
    for (key, command) in commands {
        let name = command.name();
        match service.submit(principal, command, Some(&key)).await {
            Ok(_) => {}
            // Already so (a member assigned or appointed before): nothing to do.
            Err(CommandError::Refused(e)) if e.rule == allweather_domain::Rule::NothingChanges => {}
            Err(CommandError::Internal(e)) => return Err(CommandError::Internal(e)),
            Err(e) => refused.push(format!("{name} ({key}) was refused: {e}")),
        }
    }
    let head = log.head().await?.position;
    Ok(Imported {
        appended: head - before,
        head,
        refused,
    })
}
