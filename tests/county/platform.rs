//! The platform in a real browser, as the county's people use it on a phone: a member
//! signed in with a fresh code, a password chosen, a need claimed, hours logged, a refusal
//! read beside the form; the service branch's secretary verifies the hours on the branch's
//! page, which another branch's secretary cannot open; the committee issues the cards in
//! bulk; the service secretary writes the community side and the unit secretary reads it
//! and signs; the committee closes the year — every step a command in the log. Every
//! role's page (member, branch, code sheet, committee, accounts, centre, audit) is looked
//! at on a phone and a desktop: it fits both widths, axe-core finds no serious or critical
//! violation, and its screenshots land in `target/artefacts/`
//! (`platform-{page}-{phone|desktop}-{backend}.png`).

use allweather_api::{CommandOptions, CommandService};
use allweather_domain::Principal;
use allweather_domain::command::{InviteAccount, PublishWish};
use allweather_domain::values::{Category, WishOrigin};
use allweather_events::{Role, Timestamp};
use allweather_test_support::browser::{Browser, DESKTOP, PHONE};
use allweather_test_support::{TestApp, id_of};
use serde_json::json;

allweather_test_support::on_both_backends!(
    crate::flows;
    postgres = (TestApp::postgres().await, "postgres");
    sqlite = (TestApp::sqlite().await, "sqlite");
    a_member_works_on_a_phone_and_their_service_secretary_verifies_the_hours,
);

mod flows {
    use super::*;

    /// A new browser, signed in for the first time with `code` as `login`, on `/my`.
    async fn first_sign_in(app: &TestApp, code: &str, login: &str) -> Browser {
        first_sign_in_to(app, code, login, "/my").await
    }

    /// A new browser, signed in for the first time with `code` as `login`, on `home`.
    async fn first_sign_in_to(app: &TestApp, code: &str, login: &str, home: &str) -> Browser {
        let browser = Browser::open(PHONE).await;
        browser
            .goto(&format!("{}/signin?code={code}", app.base))
            .await;
        browser.fill("login", login).await;
        browser.fill("password", "a long enough secret").await;
        browser.fill("password_again", "a long enough secret").await;
        browser.click("form button[type=submit]").await;
        assert_eq!(browser.run("return location.pathname").await, home);
        browser
    }

    /// A sign-in code for `invite` (the `InviteAccount` body), from the committee
    /// through the JSON API.
    async fn code_for(app: &TestApp, invite: serde_json::Value) -> String {
        let reply = app.ok(&app.admin(), "InviteAccount", invite).await;
        reply["signin_code"]["code"]
            .as_str()
            .expect("a sign-in code")
            .to_owned()
    }

    /// Sets the field `id` to `text` in the page.
    async fn set(browser: &Browser, id: &str, text: &str) {
        browser
            .run(&format!(
                "document.getElementById({id:?}).value = {text:?}; return null;"
            ))
            .await;
    }

    /// Looks at the page at both widths: it fits, axe finds nothing serious, screenshots.
    async fn look(browser: &Browser, page: &str, backend: &str) {
        for (size, width) in [(PHONE, "phone"), (DESKTOP, "desktop")] {
            browser.resize(size).await;
            assert!(browser.fits().await, "{page} fits the {width}'s width");
            let violations = browser.axe().await;
            assert!(violations.is_empty(), "{page} at {width}: {violations:#?}");
            let shot = browser
                .screenshot(&format!("platform-{page}-{width}-{backend}"))
                .await;
            assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 5_000));
        }
        browser.resize(PHONE).await;
    }

    pub async fn a_member_works_on_a_phone_and_their_service_secretary_verifies_the_hours(
        (app, backend): (TestApp, &str),
    ) {
        let admin = app.admin();
        app.adopt_rules(|_| {}).await;
        let branch = id_of(
            &app.ok(
                &admin,
                "RegisterBranch",
                json!({"name": "县水利局支部", "kind": "unit"}),
            )
            .await,
        );
        let member = id_of(
            &app.ok(
                &admin,
                "RegisterMember",
                json!({"name": "李华", "unit_branch_id": branch, "joined_on": "2010-06-01"}),
            )
            .await,
        );
        let service_branch = id_of(
            &app.ok(
                &admin,
                "RegisterBranch",
                json!({"name": "城东社区服务支部", "kind": "service", "community": "城东社区"}),
            )
            .await,
        );
        let secretary = id_of(
            &app.ok(
                &admin,
                "RegisterMember",
                json!({"name": "张伟", "unit_branch_id": branch, "joined_on": "2001-03-02"}),
            )
            .await,
        );
        let unit_secretary = id_of(
            &app.ok(
                &admin,
                "RegisterMember",
                json!({"name": "赵敏", "unit_branch_id": branch, "joined_on": "2003-04-05"}),
            )
            .await,
        );
        for m in [member, secretary] {
            app.ok(
                &admin,
                "AssignServiceBranch",
                json!({"member_id": m, "service_branch_id": service_branch}),
            )
            .await;
        }
        for (b, m) in [(service_branch, secretary), (branch, unit_secretary)] {
            app.ok(
                &admin,
                "AppointSecretary",
                json!({"branch_id": b, "member_id": m}),
            )
            .await;
        }
        let need = app
            .submit(
                &app.centre(),
                PublishWish {
                    wish_id: None,
                    origin: WishOrigin::ServiceNeed,
                    title: "帮独居老人买米".into(),
                    beneficiary: "王大爷，城东社区5号".into(),
                    beneficiary_contact: None,
                    beneficiary_id: None,
                    category: Category::CommunityService,
                    deadline: Timestamp::parse("2026-07-01T00:00:00+08:00").expect("deadline"),
                    volunteers: None,
                },
            )
            .await;
        let need = id_of(&need);
        let other_need = PublishWish {
            wish_id: None,
            origin: WishOrigin::MicroWish,
            title: "给留守儿童的书包".into(),
            beneficiary: "小明，城东社区7号".into(),
            beneficiary_contact: None,
            beneficiary_id: None,
            category: Category::Festival,
            deadline: Timestamp::parse("2026-07-01T00:00:00+08:00").expect("deadline"),
            volunteers: None,
        };
        let other_need = id_of(&app.submit(&app.centre(), other_need).await);
        let service = CommandService::new(app.log.clone(), CommandOptions::default())
            .expect("a command service");
        let committee = Principal {
            subject: "committee@county".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let invite = |member_id| {
            let (service, committee) = (&service, &committee);
            async move {
                let invite = InviteAccount {
                    member_id: Some(member_id),
                    role: None,
                    account_id: None,
                };
                service
                    .invite_account(committee, invite, None)
                    .await
                    .expect("an invitation")
                    .code
            }
        };
        let code = invite(member).await;

        let browser = Browser::open(PHONE).await;
        // The code as the QR code's link carries it.
        browser
            .goto(&format!("{}/signin?code={code}", app.base))
            .await;
        assert_eq!(
            browser
                .run("return document.querySelector('h1').textContent")
                .await,
            "首次登录"
        );
        look(&browser, "code", backend).await;
        browser.fill("login", "lihua").await;
        browser.fill("password", "水利局 2026 service").await;
        browser.fill("password_again", "水利局 2026 service").await;
        browser.click("form button[type=submit]").await;
        assert!(
            browser.run("return location.pathname").await == "/my",
            "signed in, on the member's page"
        );
        assert!(browser.text("open-wishes").await.contains("帮独居老人买米"));
        look(&browser, "my", backend).await;

        // Claim the need.
        browser
            .click(&format!("li[data-wish='{need}'] button"))
            .await;
        assert!(browser.text("my-claims").await.contains("帮独居老人买米"));
        assert!(!browser.text("open-wishes").await.contains("帮独居老人买米"));
        assert_eq!(app.count("WishClaimed").await, 1);

        // Claimed by someone else meanwhile: it leaves the open list without a reload.
        browser
            .wait_until(
                "the page to follow the wish board",
                "return document.getElementById('open-wishes').dataset.live === 'on';",
            )
            .await;
        assert!(
            browser
                .text("open-wishes")
                .await
                .contains("给留守儿童的书包")
        );
        app.ok(
            &app.member(secretary),
            "ClaimWish",
            json!({"wish_id": other_need, "member_id": secretary}),
        )
        .await;
        browser
            .wait_until(
                "the wish claimed elsewhere to leave the open list",
                "return !document.getElementById('open-wishes').textContent.includes('给留守儿童的书包');",
            )
            .await;
        assert_eq!(app.count("WishClaimed").await, 2);

        // Too many hours: the rule's sentence beside the form, nothing appended.
        let (head, _) = app.head().await;
        browser.fill("hours", "13").await;
        browser.fill("activity", "打扫广场").await;
        browser.click("#log-hours button").await;
        let said = browser
            .run("return document.querySelector('#log-hours [role=alert]').textContent")
            .await;
        assert_eq!(said, "每条记录的时长须大于0、不超过12小时，按分钟计。");
        assert_eq!(
            app.head().await.0,
            head,
            "a refused page action appends nothing"
        );
        look(&browser, "my-refused", backend).await;

        browser.fill("hours", "2.5").await;
        browser.fill("activity", "打扫广场").await;
        browser.click("#log-hours button").await;
        assert_eq!(
            browser
                .run("return document.querySelector('#log-hours [role=alert]').textContent")
                .await,
            "已办理。"
        );
        assert!(
            browser.text("hours").await.contains("2.50 h (1 条)"),
            "{}",
            browser.text("hours").await
        );
        assert_eq!(app.count("ServiceHoursLogged").await, 1);
        // The events name the account as their actor.
        let stream = app
            .get_as(&admin, &format!("/api/v1/streams/claims-{member}"))
            .await;
        assert_eq!(
            stream.1["events"][0]["actor"]["id"],
            json!(format!("account:{member}")),
            "{}",
            stream.1
        );

        // The service branch's secretary, on their phone: the hours wait on the branch's page.
        let secretary_browser = first_sign_in(&app, &invite(secretary).await, "zhangwei").await;
        let link = format!("/branches/{service_branch}");
        assert!(
            secretary_browser
                .text("my-branches")
                .await
                .contains("城东社区服务支部"),
            "their branch is linked from their page"
        );
        secretary_browser.click(&format!("a[href='{link}']")).await;
        assert!(secretary_browser.text("waiting").await.contains("打扫广场"));
        look(&secretary_browser, "branch", backend).await;
        secretary_browser.click("#verify button[type=submit]").await;
        assert_eq!(
            secretary_browser
                .run("return document.querySelector('[data-form=verify]').textContent")
                .await,
            "已办理。"
        );
        assert!(!secretary_browser.text("waiting").await.contains("打扫广场"));
        assert_eq!(app.count("ServiceHoursVerified").await, 1);
        // A printable sign-in code for a member of the branch (a reset, for one who has an
        // account): the code on the sheet is the one that works, and the log records it.
        secretary_browser
            .click(&format!("li[data-member='{member}'] button"))
            .await;
        let code = secretary_browser.text("code").await;
        let link = secretary_browser
            .run("return document.querySelector('.link').textContent")
            .await;
        assert_eq!(link, json!(format!("{}/signin?code={code}", app.base)));
        assert_eq!(
            secretary_browser
                .run("return document.querySelectorAll('.qr svg').length")
                .await,
            1
        );
        assert_eq!(
            app.count("AccountInvited").await,
            3,
            "the member, the secretary, and the member again"
        );
        look(&secretary_browser, "signin-code", backend).await;
        let reset = Browser::open(PHONE).await;
        reset
            .goto(&format!("{}/signin?code={code}", app.base))
            .await;
        assert_eq!(
            reset
                .run("return document.querySelectorAll('#code').length")
                .await,
            1,
            "the sheet's code opens the first sign-in"
        );
        reset.close().await;

        let link = format!("/branches/{service_branch}");
        // The unit branch's secretary types the service branch's address: refused, nothing
        // shown.
        let other = first_sign_in(&app, &invite(unit_secretary).await, "zhaomin").await;
        other.goto(&format!("{}{link}", app.base)).await;
        assert_eq!(
            other
                .run("return document.querySelector('[role=alert]').textContent")
                .await,
            "您无权查看这个页面。"
        );
        assert!(
            !other
                .run("return document.body.innerText")
                .await
                .as_str()
                .unwrap_or_default()
                .contains("打扫广场")
        );

        // The committee issues every member's card in bulk (those without a service
        // branch are left out, and told); its page, the centre's and the auditor's looked
        // at.
        let office = first_sign_in_to(
            &app,
            &code_for(&app, json!({"role": "committee_admin"})).await,
            "office",
            "/committee",
        )
        .await;
        look(&office, "committee", backend).await;
        office.click("#issue-all button").await;
        assert_eq!(app.count("DualCardIssued").await, 2);
        assert_eq!(office.text("cards-issued").await, "2");
        office
            .goto(&format!("{}/committee/accounts", app.base))
            .await;
        look(&office, "accounts", backend).await;
        let centre = first_sign_in_to(
            &app,
            &code_for(&app, json!({"role": "service_centre"})).await,
            "centre",
            "/centre",
        )
        .await;
        look(&centre, "centre", backend).await;
        centre.close().await;
        let auditor = first_sign_in_to(
            &app,
            &code_for(&app, json!({"role": "auditor"})).await,
            "shenji",
            "/audit",
        )
        .await;
        auditor.click("#audit-status button").await;
        assert!(auditor.text("chain").await.contains("哈希链校验通过"));
        look(&auditor, "audit", backend).await;
        auditor.close().await;

        // The service secretary writes the community side; the unit secretary reads it
        // beside the card and signs the unit side.
        secretary_browser
            .goto(&format!("{}/branches/{service_branch}?year=2026", app.base))
            .await;
        set(&secretary_browser, &format!("remarks-{member}"), "服务积极").await;
        secretary_browser
            .click(&format!(
                "form[action='/act/SignDualCard'][data-member='{member}'] button"
            ))
            .await;
        assert_eq!(app.count("DualCardSigned").await, 1);
        secretary_browser.close().await;
        other
            .goto(&format!("{}/branches/{branch}?year=2026", app.base))
            .await;
        let card = format!("form[action='/act/SignDualCard'][data-member='{member}']");
        assert_eq!(
            other
                .run(&format!(
                    "return document.querySelector(\"{card} .other-side\").textContent"
                ))
                .await,
            "另一方意见: 优秀 服务积极"
        );
        look(&other, "unit-branch", backend).await;
        set(&other, &format!("remarks-{member}"), "工作认真").await;
        other.click(&format!("{card} button")).await;
        assert_eq!(app.count("DualCardSigned").await, 2);
        other.close().await;

        // The year over, the committee closes it, naming those without an appraisal.
        office.close().await;
        app.clock
            .advance(std::time::Duration::from_secs(200 * 24 * 3600));
        let office = first_sign_in_to(
            &app,
            &code_for(&app, json!({"role": "committee_admin"})).await,
            "office2",
            "/committee",
        )
        .await;
        office
            .goto(&format!("{}/committee?year=2026", app.base))
            .await;
        office.click("#close-year button").await;
        assert_eq!(app.count("YearClosed").await, 1);
        office.close().await;

        // Sign out: the page is gone, the sign-in page looked at too.
        browser.click("form[action='/signout'] button").await;
        assert_eq!(browser.run("return location.pathname").await, "/signin");
        look(&browser, "signin", backend).await;
        browser.goto(&format!("{}/my", app.base)).await;
        assert_eq!(browser.run("return location.pathname").await, "/signin");
        browser.close().await;
        app.stop().await;
    }
}
