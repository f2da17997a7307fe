//! Accounts: who may give whom a way into the platform, and disabling one.

use super::*;
use allweather_events::Role;

fn invite_member(member_id: Uuid) -> C {
    C::InviteAccount(InviteAccount {
        member_id: Some(member_id),
        role: None,
        account_id: None,
    })
}

#[test]
fn a_member_is_invited_by_the_committee_or_a_secretary_of_their_branches_only() {
    let mut s = Scene::county();
    let invited = Event::AccountInvited(ev::AccountInvited {
        role: Role::Member,
        member_id: Some(s.a),
    });
    s.when(member(s.a), invite_member(s.a))
        .then_refused(Rule::RoleNotPermitted);
    s.when(centre(), invite_member(s.a))
        .then_refused(Rule::RoleNotPermitted);
    let other = s.branch("Tax Bureau branch", "unit");
    let other_sec = s.member_of(other, "2000-01-01");
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: other,
            member_id: other_sec,
        }),
    );
    s.when(secretary(other, other_sec), invite_member(s.a))
        .then_refused(Rule::NotTheBranchSecretary);
    // A secretary token naming a branch its holder does not hold is refused too.
    s.when(secretary(s.unit, s.a), invite_member(s.a))
        .then_refused(Rule::NotTheBranchSecretary);
    s.when(secretary(s.service, s.service_sec), invite_member(s.a))
        .then_emitted(std::slice::from_ref(&invited));
    // Again: a new code, recorded again.
    s.when(secretary(s.unit, s.unit_sec), invite_member(s.a))
        .then_emitted(std::slice::from_ref(&invited));
    let nobody = s.id();
    s.when(admin(), invite_member(nobody))
        .then_refused(Rule::MemberNotFound);
}

#[test]
fn role_accounts_are_the_committees_to_give_and_never_a_member_or_secretary_role() {
    let mut s = Scene::county();
    let role = |role: Role, account_id: Option<Uuid>| {
        C::InviteAccount(InviteAccount {
            member_id: None,
            role: Some(role),
            account_id,
        })
    };
    let id = s.id();
    s.when(secretary(s.unit, s.unit_sec), role(Role::Auditor, Some(id)))
        .then_refused(Rule::RoleNotPermitted);
    for refused in [Role::Member, Role::Secretary, Role::System] {
        let e = s
            .when(admin(), role(refused, Some(id)))
            .then_refused(Rule::OutOfRange);
        assert_eq!(e.field, Some("role"));
    }
    s.when(admin(), role(Role::Auditor, Some(id)))
        .then_emitted(&[Event::AccountInvited(ev::AccountInvited {
            role: Role::Auditor,
            member_id: None,
        })]);
    s.when(admin(), role(Role::CommitteeAdmin, Some(id)))
        .then_refused(Rule::AlreadyExists);
}

#[test]
fn a_disabled_account_is_enabled_again_by_the_committee_only() {
    let mut s = Scene::county();
    let disable = |account_id: Uuid| {
        C::DisableAccount(DisableAccount {
            account_id,
            reason: "left the office".into(),
        })
    };
    s.when(admin(), disable(s.a))
        .then_refused(Rule::AccountNotFound);
    s.ok(admin(), invite_member(s.a));
    s.when(secretary(s.unit, s.unit_sec), disable(s.a))
        .then_refused(Rule::RoleNotPermitted);
    s.when(admin(), disable(s.a))
        .then_emitted(&[Event::AccountDisabled(ev::AccountDisabled {
            reason: "left the office".into(),
        })]);
    s.when(admin(), disable(s.a))
        .then_refused(Rule::AccountIsDisabled);
    s.when(secretary(s.unit, s.unit_sec), invite_member(s.a))
        .then_refused(Rule::AccountIsDisabled);
    s.ok(admin(), invite_member(s.a));
    s.ok(secretary(s.unit, s.unit_sec), invite_member(s.a));
}

#[test]
fn an_account_is_for_a_member_or_a_role_never_both_nor_neither() {
    let body = |json: &str| crate::Command::parse("InviteAccount", json.as_bytes());
    let m = Uuid::nil();
    for bad in [
        "{}".to_owned(),
        format!(r#"{{"member_id":"{m}","role":"auditor"}}"#),
        format!(r#"{{"member_id":"{m}","account_id":"{m}"}}"#),
    ] {
        assert!(body(&bad).is_err(), "{bad}");
    }
    assert!(body(&format!(r#"{{"member_id":"{m}"}}"#)).is_ok());
    assert!(body(r#"{"role":"auditor"}"#).is_ok());
}

#[test]
fn a_branchs_work_is_read_by_its_secretary_and_deputy_as_they_stand_and_by_oversight() {
    use crate::permissions::{Read, may_read};
    let mut s = Scene::county();
    let (unit, a, unit_sec, service, service_sec) =
        (s.unit, s.a, s.unit_sec, s.service, s.service_sec);
    let reads = |s: &mut Scene, who: Principal| {
        let ctx = s.ctx(who);
        s.resolve(|w| may_read(w, &ctx, &Read::Branch(unit)))
            .is_ok()
    };
    assert!(reads(&mut s, admin()));
    assert!(reads(&mut s, auditor()));
    assert!(reads(&mut s, secretary(unit, unit_sec)));
    assert!(
        !reads(&mut s, secretary(service, service_sec)),
        "another branch's"
    );
    assert!(
        !reads(&mut s, secretary(unit, a)),
        "a token naming a post not held"
    );
    assert!(!reads(&mut s, member(a)));
    assert!(!reads(&mut s, centre()));
    s.ok(
        admin(),
        C::AppointDeputy(AppointDeputy {
            branch_id: unit,
            member_id: a,
        }),
    );
    assert!(reads(&mut s, secretary(unit, a)), "the deputy");
    s.ok(
        admin(),
        C::AppointSecretary(AppointSecretary {
            branch_id: unit,
            member_id: a,
        }),
    );
    assert!(
        !reads(&mut s, secretary(unit, unit_sec)),
        "a former secretary"
    );
}
