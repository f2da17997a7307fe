//! A county's year through the real command path: rules, branches, members, hours
//! logged, verified, rejected and corrected. Answers the leaderboard it must produce,
//! computed here independently: (member, verified minutes, points in hundredths), ranked.

use allweather_command::{CommandOptions, CommandReply, CommandService};
use allweather_domain::command::{
    AdoptRules, ApplyCorrection, AppointSecretary, AssignServiceBranch, CancelWish, ClaimWish,
    ConfirmWish, FulfilWish, LogServiceHours, MemberLeft, PublishWish, RegisterBranch,
    RegisterMember, RejectServiceHours, ReleaseWish, TransferMember, VerifyServiceHours,
};
use allweather_domain::values::{BranchKind, Category, LeaveReason, WishOrigin, Year};
use allweather_domain::{Command, Principal};
use allweather_events::{Role, Timestamp};
use allweather_log::Log;
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

fn principal(role: Role, member: Option<Uuid>, branch: Option<Uuid>) -> Principal {
    Principal {
        subject: member.map_or_else(|| role.as_str().to_owned(), |m| m.to_string()),
        role,
        member_id: member,
        branch_id: branch,
    }
}

async fn run(
    service: &CommandService,
    who: &Principal,
    command: impl Into<Command>,
) -> CommandReply {
    let command = command.into();
    let name = command.name();
    service
        .submit(who, command.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("{name} {command:?} was refused: {e}"))
}

fn id(reply: &CommandReply) -> Uuid {
    reply.id.parse().expect("an id")
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn branch(name: impl Into<String>, kind: BranchKind) -> RegisterBranch {
    RegisterBranch {
        branch_id: None,
        name: name.into(),
        kind,
        community: None,
    }
}

/// Points per hour, in hundredths, as rules/2026.toml sets them.
fn per_hour(category: Category) -> i64 {
    match category {
        Category::Festival => 150,
        Category::CentralWork | Category::ReservoirResettlement => 200,
        _ => 100,
    }
}

pub async fn county_year(log: &Log) -> Vec<(String, i64, i64)> {
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T02:00:00Z")
        .expect("time")
        .to_utc();
    let options = CommandOptions {
        clock: Arc::new(move || now),
        ..CommandOptions::default()
    };
    let service = CommandService::new(log.clone(), options).expect("service");
    let admin = principal(Role::CommitteeAdmin, None, None);
    let rules: Value = toml::from_str(include_str!("../../../rules/2026.toml")).expect("rules");
    let year = Year::new(2026).expect("a year");
    run(&service, &admin, AdoptRules { year, rules }).await;
    let unit = id(&run(&service, &admin, branch("Water Bureau", BranchKind::Unit)).await);
    let community = id(&run(&service, &admin, branch("East Street", BranchKind::Service)).await);
    let register = |name: String| RegisterMember {
        member_id: None,
        name,
        unit_branch_id: unit,
        joined_on: day("2012-03-04"),
        cadre: None,
    };
    let secretary_id = id(&run(&service, &admin, register("Li Na".into())).await);
    let assign = |member_id, service_branch_id| AssignServiceBranch {
        member_id,
        service_branch_id,
    };
    run(&service, &admin, assign(secretary_id, community)).await;
    let appoint = AppointSecretary {
        branch_id: community,
        member_id: secretary_id,
    };
    run(&service, &admin, appoint).await;
    let secretary = principal(Role::Secretary, Some(secretary_id), Some(community));

    let categories = [
        Category::CommunityService,
        Category::Festival,
        Category::Cleanup,
        Category::CentralWork,
    ];
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let centre = principal(Role::ServiceCentre, None, None);
    let mut wishes = Vec::new();
    let deadline = Timestamp::parse("2026-07-01T00:00:00Z").expect("a deadline");
    for w in 0..6 {
        let publish = PublishWish {
            wish_id: None,
            origin: WishOrigin::MicroWish,
            title: format!("wish {w}"),
            beneficiary: "someone in need".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::Festival,
            deadline,
            volunteers: None,
        };
        wishes.push(id(&run(&service, &centre, publish).await));
    }
    let mut members = Vec::new();
    for m in 0..24u32 {
        let member = id(&run(&service, &admin, register(format!("Volunteer {m}"))).await);
        members.push(member);
        run(&service, &admin, assign(member, community)).await;
        let who = principal(Role::Member, Some(member), None);
        if let Some(&wish) = wishes.get(m as usize).filter(|_| m < 5) {
            let claim = ClaimWish {
                wish_id: wish,
                member_id: member,
            };
            run(&service, &who, claim).await;
            match m {
                0..=2 => {
                    let fulfil = FulfilWish {
                        wish_id: wish,
                        evidence: "delivered".into(),
                        member_id: None,
                    };
                    run(&service, &who, fulfil).await;
                    if m < 2 {
                        run(&service, &centre, ConfirmWish { wish_id: wish }).await;
                    }
                }
                3 => {
                    let release = ReleaseWish {
                        wish_id: wish,
                        member_id: member,
                    };
                    run(&service, &who, release).await;
                }
                _ => {}
            }
        }
        for e in 0..3u32 {
            let category = categories[((m + e) % 4) as usize];
            let half_hours = i64::from(1 + (m * 7 + e * 3) % 10);
            let logged = LogServiceHours {
                record_id: None,
                member_id: member,
                date: day(&format!("2026-06-{:02}", 1 + (m + e) % 14)),
                hours: half_hours as f64 / 2.0,
                category,
                activity: format!("activity {e}"),
                channel: None,
                campaign_id: None,
                start_time: None,
                organising_branch_id: None,
            };
            let record = id(&run(&service, &who, logged).await);
            match (m + e) % 5 {
                0 => {
                    let reject = RejectServiceHours {
                        record_id: record,
                        reason: "no sign-in sheet".into(),
                    };
                    run(&service, &secretary, reject).await;
                }
                1 => {
                    // Verified, then corrected to an hour more.
                    let verify = VerifyServiceHours { record_id: record };
                    run(&service, &secretary, verify).await;
                    let correct = ApplyCorrection {
                        record_id: record,
                        hours: Some((half_hours + 2) as f64 / 2.0),
                        date: None,
                        category: None,
                        reason: "checked the sheet".into(),
                    };
                    run(&service, &secretary, correct).await;
                    let entry = expected.entry(member.to_string()).or_default();
                    entry.0 += (half_hours + 2) * 30;
                    entry.1 += (half_hours + 2) * 30 * per_hour(category) / 60;
                }
                2 => {} // left unverified: it does not count
                _ => {
                    let verify = VerifyServiceHours { record_id: record };
                    run(&service, &secretary, verify).await;
                    let entry = expected.entry(member.to_string()).or_default();
                    entry.0 += half_hours * 30;
                    entry.1 += half_hours * 30 * per_hour(category) / 60;
                }
            }
        }
    }
    // Three volunteers change posts and move house; one retires. Their history stays
    // where it was recorded.
    let finance = id(&run(&service, &admin, branch("Finance Bureau", BranchKind::Unit)).await);
    let west = id(&run(&service, &admin, branch("West Street", BranchKind::Service)).await);
    for &member in members.iter().take(3) {
        let transfer = TransferMember {
            member_id: member,
            unit_branch_id: finance,
            on: day("2026-06-15"),
        };
        run(&service, &admin, transfer).await;
        run(&service, &admin, assign(member, west)).await;
    }
    let left = MemberLeft {
        member_id: members[3],
        reason: LeaveReason::Retired,
        on: day("2026-06-15"),
    };
    run(&service, &admin, left).await;
    let cancel = CancelWish {
        wish_id: wishes[5],
        reason: "no longer needed".into(),
    };
    run(&service, &centre, cancel).await;
    let mut ranked: Vec<(String, i64, i64)> = expected
        .into_iter()
        .map(|(m, (minutes, points))| (m, minutes, points))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// `n` more branches registered through the command path (after [`county_year`]).
pub async fn more_branches(log: &Log, n: usize) {
    let service = CommandService::new(log.clone(), CommandOptions::default()).expect("service");
    let admin = principal(Role::CommitteeAdmin, None, None);
    for i in 0..n {
        let register = branch(format!("Branch {i} of the second half"), BranchKind::Unit);
        run(&service, &admin, register).await;
    }
}
