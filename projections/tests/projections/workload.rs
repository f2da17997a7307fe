//! A county's year through the real command path: rules, branches, members, hours
//! logged, verified, rejected and corrected. Answers the leaderboard it must produce,
//! computed here independently: (member, verified minutes, points in hundredths), ranked.

use allweather_command::{CommandOptions, CommandReply, CommandService};
use allweather_domain::Principal;
use allweather_events::Role;
use allweather_log::Log;
use serde_json::{Value, json};
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

async fn run(service: &CommandService, who: &Principal, name: &str, body: Value) -> CommandReply {
    service
        .execute(who, name, None, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{name} {body} was refused: {e}"))
}

fn id(reply: &CommandReply) -> Uuid {
    reply.id.parse().expect("an id")
}

/// Points per hour, in hundredths, as rules/2026.toml sets them.
fn per_hour(category: &str) -> i64 {
    match category {
        "festival" => 150,
        "central_work" | "reservoir_resettlement" => 200,
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
    run(
        &service,
        &admin,
        "AdoptRules",
        json!({"year": 2026, "rules": rules}),
    )
    .await;
    let unit = id(&run(
        &service,
        &admin,
        "RegisterBranch",
        json!({"name": "Water Bureau", "kind": "unit"}),
    )
    .await);
    let community = id(&run(
        &service,
        &admin,
        "RegisterBranch",
        json!({"name": "East Street", "kind": "service"}),
    )
    .await);
    let register =
        |name: String| json!({"name": name, "unit_branch_id": unit, "joined_on": "2012-03-04"});
    let secretary_id = id(&run(&service, &admin, "RegisterMember", register("Li Na".into())).await);
    run(
        &service,
        &admin,
        "AssignServiceBranch",
        json!({"member_id": secretary_id, "service_branch_id": community}),
    )
    .await;
    run(
        &service,
        &admin,
        "AppointSecretary",
        json!({"branch_id": community, "member_id": secretary_id}),
    )
    .await;
    let secretary = principal(Role::Secretary, Some(secretary_id), Some(community));

    let categories = ["community_service", "festival", "cleanup", "central_work"];
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let centre = principal(Role::ServiceCentre, None, None);
    let mut wishes = Vec::new();
    for w in 0..6 {
        let body = json!({"origin": "micro_wish", "title": format!("wish {w}"), "beneficiary": "someone in need",
                          "category": "festival", "deadline": "2026-07-01T00:00:00Z"});
        wishes.push(id(&run(&service, &centre, "PublishWish", body).await));
    }
    let mut members = Vec::new();
    for m in 0..24u32 {
        let member = id(&run(
            &service,
            &admin,
            "RegisterMember",
            register(format!("Volunteer {m}")),
        )
        .await);
        members.push(member);
        run(
            &service,
            &admin,
            "AssignServiceBranch",
            json!({"member_id": member, "service_branch_id": community}),
        )
        .await;
        let who = principal(Role::Member, Some(member), None);
        if let Some(&wish) = wishes.get(m as usize).filter(|_| m < 5) {
            run(
                &service,
                &who,
                "ClaimWish",
                json!({"wish_id": wish, "member_id": member}),
            )
            .await;
            match m {
                0..=2 => {
                    run(
                        &service,
                        &who,
                        "FulfilWish",
                        json!({"wish_id": wish, "evidence": "delivered"}),
                    )
                    .await;
                    if m < 2 {
                        run(&service, &centre, "ConfirmWish", json!({"wish_id": wish})).await;
                    }
                }
                3 => {
                    run(
                        &service,
                        &who,
                        "ReleaseWish",
                        json!({"wish_id": wish, "member_id": member}),
                    )
                    .await;
                }
                _ => {}
            }
        }
        for e in 0..3u32 {
            let category = categories[((m + e) % 4) as usize];
            let half_hours = i64::from(1 + (m * 7 + e * 3) % 10);
            let body = json!({
                "member_id": member, "date": format!("2026-06-{:02}", 1 + (m + e) % 14),
                "hours": half_hours as f64 / 2.0, "category": category, "activity": format!("activity {e}"),
            });
            let record = id(&run(&service, &who, "LogServiceHours", body).await);
            match (m + e) % 5 {
                0 => {
                    run(
                        &service,
                        &secretary,
                        "RejectServiceHours",
                        json!({"record_id": record, "reason": "no sign-in sheet"}),
                    )
                    .await;
                }
                1 => {
                    // Verified, then corrected to an hour more.
                    run(
                        &service,
                        &secretary,
                        "VerifyServiceHours",
                        json!({"record_id": record}),
                    )
                    .await;
                    let hours = (half_hours + 2) as f64 / 2.0;
                    run(
                        &service,
                        &secretary,
                        "ApplyCorrection",
                        json!({"record_id": record, "hours": hours, "reason": "checked the sheet"}),
                    )
                    .await;
                    let entry = expected.entry(member.to_string()).or_default();
                    entry.0 += (half_hours + 2) * 30;
                    entry.1 += (half_hours + 2) * 30 * per_hour(category) / 60;
                }
                2 => {} // left unverified: it does not count
                _ => {
                    run(
                        &service,
                        &secretary,
                        "VerifyServiceHours",
                        json!({"record_id": record}),
                    )
                    .await;
                    let entry = expected.entry(member.to_string()).or_default();
                    entry.0 += half_hours * 30;
                    entry.1 += half_hours * 30 * per_hour(category) / 60;
                }
            }
        }
    }
    // Three volunteers change posts and move house; one retires. Their history stays
    // where it was recorded.
    let finance = id(&run(
        &service,
        &admin,
        "RegisterBranch",
        json!({"name": "Finance Bureau", "kind": "unit"}),
    )
    .await);
    let west = id(&run(
        &service,
        &admin,
        "RegisterBranch",
        json!({"name": "West Street", "kind": "service"}),
    )
    .await);
    for member in members.iter().take(3) {
        run(
            &service,
            &admin,
            "TransferMember",
            json!({"member_id": member, "unit_branch_id": finance, "on": "2026-06-15"}),
        )
        .await;
        run(
            &service,
            &admin,
            "AssignServiceBranch",
            json!({"member_id": member, "service_branch_id": west}),
        )
        .await;
    }
    run(
        &service,
        &admin,
        "MemberLeft",
        json!({"member_id": members[3], "reason": "retired", "on": "2026-06-15"}),
    )
    .await;
    run(
        &service,
        &centre,
        "CancelWish",
        json!({"wish_id": wishes[5], "reason": "no longer needed"}),
    )
    .await;
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
        run(
            &service,
            &admin,
            "RegisterBranch",
            json!({"name": format!("Branch {i} of the second half"), "kind": "unit"}),
        )
        .await;
    }
}
