//! The platform's sign-in and the member's page over HTTP, as a browser sends them (form
//! posts, cookies, no redirect followed): a first sign-in with a code, CSRF, session
//! fixation, a page action refused by a rule and one done once, lock-out, disabling.

use allweather_api::{CommandOptions, CommandService};
use allweather_domain::Principal;
use allweather_domain::command::InviteAccount;
use allweather_events::Role;
use allweather_test_support::TestApp;
use serde_json::json;

/// A browser of one: its cookies, no redirect followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

/// An answer: status, where it sends the browser, and the page.
struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().expect("cookie");
            let (pair, attributes) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                assert!(attributes.contains("HttpOnly"), "{c}");
                assert!(attributes.contains("SameSite=Lax"), "{c}");
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            body: r.text().await.expect("body"),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(r).await
    }

    async fn send(&mut self, path: &str, form: &[(String, String)]) -> Page {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post(path, &pairs).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("POST");
        self.keep(r).await
    }
}

/// The value of the hidden field `name` in a page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub async fn a_member_signs_in_with_a_code_and_works_on_their_page_through_commands(app: TestApp) {
    let admin = app.admin();
    app.adopt_rules(|_| {}).await;
    let branch = allweather_test_support::id_of(
        &app.ok(
            &admin,
            "RegisterBranch",
            json!({"name": "Water Bureau branch", "kind": "unit"}),
        )
        .await,
    );
    let member = allweather_test_support::id_of(
        &app.ok(
            &admin,
            "RegisterMember",
            json!({"name": "Li Hua", "unit_branch_id": branch, "joined_on": "2010-06-01"}),
        )
        .await,
    );
    let service = CommandService::new(app.log.clone(), CommandOptions::default()).expect("service");
    let committee = Principal {
        subject: "committee@county".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    };
    let invite = InviteAccount {
        member_id: Some(member),
        role: None,
        account_id: None,
    };
    let invitation = service
        .invite_account(&committee, invite, None)
        .await
        .expect("invite");
    assert_eq!(
        app.count("AccountInvited").await,
        1,
        "the log records who was given a way in"
    );

    let mut browser = Browser::new(&app);
    // A cookie an attacker planted before the sign-in is never the session.
    browser
        .cookies
        .insert("aw_session".into(), "planted".into());
    let page = browser
        .get(&format!("/signin?code={}", invitation.code.to_lowercase()))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("首次登录"),
        "Chinese first: {}",
        page.body
    );
    let csrf = field(&page.body, "csrf");
    let set = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("code".to_owned(), invitation.code.clone()),
            ("login".to_owned(), "lihua".to_owned()),
            ("password".to_owned(), "a long enough secret".to_owned()),
            (
                "password_again".to_owned(),
                "a long enough secret".to_owned(),
            ),
        ]
    };
    // Without the form's token: refused, nothing used.
    let forged = browser.send("/signin/code", &set("not-the-token")).await;
    assert_eq!(forged.status, 403);
    assert!(
        service
            .account_of_code(&invitation.code)
            .await
            .expect("code")
            .is_some(),
        "the code is unused"
    );
    // A weak password is named beside its field.
    let mut weak = set(&csrf);
    weak[3].1 = "short".into();
    weak[4].1 = "short".into();
    let refused = browser.send("/signin/code", &weak).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("密码须为8至128个字符"),
        "{}",
        refused.body
    );

    let signed_in = browser.send("/signin/code", &set(&csrf)).await;
    assert_eq!(
        (signed_in.status, signed_in.location.as_str()),
        (303, "/my"),
        "{}",
        signed_in.body
    );
    let session = browser
        .cookies
        .get("aw_session")
        .cloned()
        .expect("a session");
    assert_ne!(session, "planted", "a new session, never the planted one");
    assert!(
        service
            .account_of_code(&invitation.code)
            .await
            .expect("code")
            .is_none(),
        "the code is used once"
    );

    let my = browser.get("/my").await;
    assert_eq!(my.status, 200, "{}", my.body);
    assert!(
        my.body.contains("我的年度") && my.body.contains("Li Hua"),
        "{}",
        my.body
    );
    let csrf = field(&my.body, "csrf");
    let key = field(&my.body, "key");
    let today = app.clock.now().date_naive().to_string();
    let hours = |csrf: &str, hours: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("key".to_owned(), key.clone()),
            ("back".to_owned(), "/my".to_owned()),
            ("form".to_owned(), "hours".to_owned()),
            ("member_id".to_owned(), member.to_string()),
            ("date".to_owned(), today.clone()),
            ("hours".to_owned(), hours.to_owned()),
            ("category".to_owned(), "community_service".to_owned()),
            ("activity".to_owned(), "swept the square".to_owned()),
        ]
    };
    // Posted without the session's token: refused, nothing appended.
    assert_eq!(
        browser
            .send("/act/LogServiceHours", &hours("forged", "2"))
            .await
            .status,
        403
    );
    assert_eq!(app.count("ServiceHoursLogged").await, 0);
    // Refused by a rule: its sentence, the log unchanged.
    let (head, _) = app.head().await;
    let refused = browser
        .send("/act/LogServiceHours", &hours(&csrf, "13"))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("每条记录的时长须大于0"),
        "{}",
        refused.body
    );
    assert_eq!(
        app.head().await.0,
        head,
        "a refused page action appends nothing"
    );
    // Done once, however often it is sent.
    for _ in 0..2 {
        let done = browser
            .send("/act/LogServiceHours", &hours(&csrf, "2"))
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("已办理"), "{}", done.body);
    }
    assert_eq!(app.count("ServiceHoursLogged").await, 1);
    // The page's command is the signed-in person's: the event names the account.
    let day = app
        .get_as(
            &admin,
            &format!("/api/v1/streams/serviceday-{member}-{today}"),
        )
        .await;
    assert_eq!(day.0, 200, "{}", day.1);
    assert_eq!(
        day.1["events"][0]["actor"]["id"],
        json!(format!("account:{member}")),
        "{}",
        day.1
    );

    // English on request.
    assert_eq!(browser.get("/lang?to=en&back=/my").await.location, "/my");
    assert!(browser.get("/my").await.body.contains("My year"));

    // Signed in on a second device; signing out everywhere ends both sessions.
    let mut second = Browser::new(&app);
    let page = second.get("/signin").await;
    let form_token = field(&page.body, "csrf");
    let signed = second
        .post(
            "/signin",
            &[
                ("csrf", form_token.as_str()),
                ("login", "LiHua"),
                ("password", "a long enough secret"),
            ],
        )
        .await;
    assert_eq!(
        (signed.status, signed.location.as_str()),
        (303, "/my"),
        "{}",
        signed.body
    );
    assert_eq!(second.get("/my").await.status, 200);
    let my = browser.get("/my").await;
    let everywhere = browser
        .post(
            "/signout/everywhere",
            &[("csrf", field(&my.body, "csrf").as_str())],
        )
        .await;
    assert_eq!(everywhere.location, "/signin");
    assert_eq!(
        second.get("/my").await.location,
        "/signin",
        "the other device too"
    );
    assert_eq!(browser.get("/my").await.location, "/signin");

    // Another browser: five wrong passwords lock the account, even for the right one.
    let mut other = Browser::new(&app);
    let page = other.get("/signin").await;
    let csrf = field(&page.body, "csrf");
    let attempt = |password: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("login".to_owned(), "lihua".to_owned()),
            ("password".to_owned(), password.to_owned()),
        ]
    };
    for n in 1..=4 {
        assert_eq!(
            other
                .send("/signin", &attempt("wrong password"))
                .await
                .status,
            401,
            "attempt {n}"
        );
    }
    assert_eq!(
        other
            .send("/signin", &attempt("wrong password"))
            .await
            .status,
        429,
        "the fifth locks"
    );
    assert_eq!(
        other
            .send("/signin", &attempt("a long enough secret"))
            .await
            .status,
        429,
        "locked, not even checked"
    );
    assert!(!other.cookies.contains_key("aw_session"));

    // Disabled by the committee: the session ends at once. (Signed in again first, once
    // the lock has passed: a new code is how the committee or a secretary lets them in.)
    // Both through the JSON API: an account's command does the same whichever way it
    // comes.
    let reply = app
        .ok(&admin, "InviteAccount", json!({"member_id": member}))
        .await;
    let again_code = reply["signin_code"]["code"]
        .as_str()
        .expect("the reply carries the new code")
        .to_owned();
    let page = browser.get(&format!("/signin?code={again_code}")).await;
    let csrf = field(&page.body, "csrf");
    let reset = browser
        .post(
            "/signin/code",
            &[
                ("csrf", csrf.as_str()),
                ("code", again_code.as_str()),
                ("login", "lihua"),
                ("password", "another long secret"),
                ("password_again", "another long secret"),
            ],
        )
        .await;
    assert_eq!(reset.location, "/my", "{}", reset.body);
    assert_eq!(browser.get("/my").await.status, 200);
    app.ok(
        &admin,
        "DisableAccount",
        json!({"account_id": member, "reason": "left the office"}),
    )
    .await;
    let gone = browser.get("/my").await;
    assert_eq!((gone.status, gone.location.as_str()), (303, "/signin"));
}

impl Browser {
    /// Posts a `multipart/form-data` form with one file, as a browser uploads it.
    async fn upload(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Page {
        let boundary = "----allweather-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                file.0
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST");
        self.keep(r).await
    }

    /// Sends a page's form to `/act/{command}`: the session's token, a fresh key, the
    /// page it is on and the form's name, with `fields`.
    async fn act(
        &mut self,
        command: &str,
        back: &str,
        form: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let page = self.get(back).await;
        assert_eq!(page.status, 200, "{back}: {}", page.body);
        let csrf = field(&page.body, "csrf");
        let key = uuid::Uuid::now_v7().to_string();
        let mut all = vec![
            ("csrf", csrf.as_str()),
            ("key", key.as_str()),
            ("back", back),
            ("form", form),
        ];
        all.extend_from_slice(fields);
        self.post(&format!("/act/{command}"), &all).await
    }
}

/// A browser signed in with a fresh code for `invite` (the `InviteAccount` body), given
/// by the committee through the JSON API; and where the sign-in sent it.
async fn signed_in(app: &TestApp, invite: serde_json::Value, login: &str) -> (Browser, String) {
    let reply = app.ok(&app.admin(), "InviteAccount", invite).await;
    let code = reply["signin_code"]["code"]
        .as_str()
        .expect("a sign-in code")
        .to_owned();
    let mut browser = Browser::new(app);
    let page = browser.get(&format!("/signin?code={code}")).await;
    let csrf = field(&page.body, "csrf");
    let done = browser
        .post(
            "/signin/code",
            &[
                ("csrf", csrf.as_str()),
                ("code", code.as_str()),
                ("login", login),
                ("password", "a long enough secret"),
                ("password_again", "a long enough secret"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    (browser, done.location)
}

fn member_invite(member: uuid::Uuid) -> serde_json::Value {
    json!({"member_id": member})
}

fn role_invite(role: &str) -> serde_json::Value {
    json!({"role": role})
}

pub async fn every_role_does_its_years_work_through_its_pages(app: TestApp) {
    let admin = app.admin();
    let id = |reply: &serde_json::Value| allweather_test_support::id_of(reply);
    let unit = id(&app
        .ok(
            &admin,
            "RegisterBranch",
            json!({"name": "水利局支部", "kind": "unit"}),
        )
        .await);
    let service_branch = id(&app
        .ok(
            &admin,
            "RegisterBranch",
            json!({"name": "城东社区服务支部", "kind": "service", "community": "城东社区"}),
        )
        .await);
    let register = |name: &'static str, cadre: bool| {
        let admin = admin.clone();
        let app = &app;
        async move {
            id(&app
                .ok(
                    &admin,
                    "RegisterMember",
                    json!({"name": name, "unit_branch_id": unit, "joined_on": "2010-06-01", "cadre": cadre}),
                )
                .await)
        }
    };
    let member = register("李华", true).await;
    let unit_secretary = register("王芳", false).await;
    let service_secretary = register("张伟", false).await;
    for m in [member, service_secretary] {
        app.ok(
            &admin,
            "AssignServiceBranch",
            json!({"member_id": m, "service_branch_id": service_branch}),
        )
        .await;
    }
    app.ok(
        &admin,
        "AppointSecretary",
        json!({"branch_id": unit, "member_id": unit_secretary}),
    )
    .await;
    app.ok(
        &admin,
        "AppointSecretary",
        json!({"branch_id": service_branch, "member_id": service_secretary}),
    )
    .await;
    // The committee: signed in, it lands on its page; the year has no rules yet.
    let (mut office, home) = signed_in(&app, role_invite("committee_admin"), "office").await;
    assert_eq!(home, "/committee");
    let page = office.get("/committee?year=2026").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("本年度尚未通过规则"), "{}", page.body);
    let csrf = field(&page.body, "csrf");
    let rules = include_str!("../../../../rules/2026.toml");
    // A rules file with a problem: named, nothing adopted.
    let bad = rules.replace(
        "annual_points_threshold = 40.0",
        "annual_points_threshold = -5.0",
    );
    let refused = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", &csrf),
                ("key", "k1"),
                ("year", "2026"),
                ("what", "rules"),
            ],
            ("2026.toml", bad.as_bytes()),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("2026.toml: service.annual_points_threshold"),
        "every problem named: {}",
        refused.body
    );
    assert_eq!(app.count("RulesAdopted").await, 0);
    // Without the session's token: refused.
    let forged = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", "forged"),
                ("key", "k2"),
                ("year", "2026"),
                ("what", "rules"),
            ],
            ("2026.toml", rules.as_bytes()),
        )
        .await;
    assert_eq!(forged.status, 403);
    let adopted = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", &csrf),
                ("key", "k3"),
                ("year", "2026"),
                ("what", "rules"),
            ],
            ("2026.toml", rules.as_bytes()),
        )
        .await;
    assert_eq!(adopted.status, 200, "{}", adopted.body);
    assert_eq!(app.count("RulesAdopted").await, 1);
    assert!(
        adopted.body.contains("本年度规则已通过"),
        "{}",
        adopted.body
    );
    // A draft reassessed: what would change, nothing appended.
    let (head, _) = app.head().await;
    let draft = rules.replace(
        "annual_points_threshold = 40.0",
        "annual_points_threshold = 10.0",
    );
    let reassessed = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", &csrf),
                ("key", "k4"),
                ("year", "2026"),
                ("what", "reassess"),
            ],
            ("draft.toml", draft.as_bytes()),
        )
        .await;
    assert_eq!(reassessed.status, 200, "{}", reassessed.body);
    assert!(
        reassessed.body.contains("id=\"reassessment\""),
        "{}",
        reassessed.body
    );
    assert_eq!(app.head().await.0, head, "a reassessment changes nothing");

    // The roster uploaded: a dry run names the bad row and column, the real run adds.
    let roster = |members: &[[&str; 4]]| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("支部").expect("sheet");
        for (c, cell) in ["名称", "类型", "社区"].iter().enumerate() {
            sheet.write_string(0, c as u16, *cell).expect("cell");
        }
        for (c, cell) in ["交通局支部", "机关", ""].iter().enumerate() {
            sheet.write_string(1, c as u16, *cell).expect("cell");
        }
        let sheet = book.add_worksheet().set_name("党员").expect("sheet");
        for (c, cell) in ["姓名", "单位支部", "入党日期", "领导干部"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *cell).expect("cell");
        }
        for (r, row) in members.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet
                    .write_string(r as u32 + 1, c as u16, *cell)
                    .expect("cell");
            }
        }
        book.save_to_buffer().expect("the workbook")
    };
    let bad = roster(&[["赵敏", "交通局支部", "2031-01-01", "否"]]);
    let page = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", &csrf),
                ("key", "k5"),
                ("year", "2026"),
                ("what", "roster"),
                ("dry_run", "on"),
            ],
            ("roster.xlsx", &bad),
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("roster.xlsx[党员]:2: joined_on"),
        "the row and column named: {}",
        page.body
    );
    let good = roster(&[["赵敏", "交通局支部", "2011-01-01", "否"]]);
    let (head, _) = app.head().await;
    let dry = office
        .upload(
            "/committee/upload",
            &[
                ("csrf", &csrf),
                ("key", "k6"),
                ("year", "2026"),
                ("what", "roster"),
                ("dry_run", "on"),
            ],
            ("roster.xlsx", &good),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(app.head().await.0, head, "a dry run sends nothing");
    for _ in 0..2 {
        let imported = office
            .upload(
                "/committee/upload",
                &[
                    ("csrf", &csrf),
                    ("key", "k7"),
                    ("year", "2026"),
                    ("what", "roster"),
                ],
                ("roster.xlsx", &good),
            )
            .await;
        assert_eq!(imported.status, 200, "{}", imported.body);
    }
    assert_eq!(
        app.count("MemberRegistered").await,
        4,
        "imported once, however often uploaded"
    );

    // The committee issues every member's card in bulk.
    let issued = office
        .act(
            "IssueDualCard",
            "/committee?year=2026",
            "issue-all",
            &[("year", "2026"), ("all_members", "true")],
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    // Those without a service branch are left out, and told.
    assert_eq!(app.count("DualCardIssued").await, 2);
    assert!(
        issued.body.contains("<dd id=\"cards-issued\">2</dd>")
            && issued.body.contains("2 人未办理"),
        "{}",
        issued.body
    );

    // The service secretary: hours verified in bulk, the community side signed, stars.
    let (mut lihua, _) = signed_in(&app, member_invite(member), "lihua").await;
    for day in ["2026-06-10", "2026-06-11"] {
        let done = lihua
            .act(
                "LogServiceHours",
                "/my",
                "hours",
                &[
                    ("member_id", &member.to_string()),
                    ("date", day),
                    ("hours", "3"),
                    ("category", "community_service"),
                    ("activity", "打扫广场"),
                ],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
    let (mut zhang, home) = signed_in(&app, member_invite(service_secretary), "zhangwei").await;
    assert_eq!(home, "/my");
    let branch_page = format!("/branches/{service_branch}?year=2026");
    let page = zhang.get(&branch_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let records: Vec<String> = page
        .body
        .match_indices("name=\"record_id\" value=\"")
        .map(|(at, m)| page.body[at + m.len()..at + m.len() + 36].to_owned())
        .collect();
    assert!(records.len() >= 2, "{}", page.body);
    let mut fields: Vec<(&str, &str)> = vec![];
    for r in &records[..2] {
        fields.push(("record_id", r.as_str()));
    }
    let verified = zhang
        .act("VerifyServiceHours", &branch_page, "verify", &fields)
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(verified.body.contains("2 项已办理"), "{}", verified.body);
    assert_eq!(app.count("ServiceHoursVerified").await, 2);
    let signed = zhang
        .act(
            "SignDualCard",
            &branch_page,
            &format!("sign-{member}"),
            &[
                ("member_id", &member.to_string()),
                ("year", "2026"),
                ("side", "community"),
                ("opinion", "excellent"),
                ("remarks", "服务积极"),
            ],
        )
        .await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let starred = zhang
        .act(
            "AwardStars",
            &branch_page,
            &format!("stars-{member}"),
            &[
                ("member_id", &member.to_string()),
                ("year", "2026"),
                ("stars", "4"),
                ("reason", "常年服务"),
            ],
        )
        .await;
    assert_eq!(starred.status, 200, "{}", starred.body);
    // Another branch's page, typed by address: refused before anything is read.
    assert_eq!(zhang.get(&format!("/branches/{unit}")).await.status, 403);

    // The unit secretary reads the community side beside the card, signs, appraises.
    let (mut wang, _) = signed_in(&app, member_invite(unit_secretary), "wangfang").await;
    let unit_page = format!("/branches/{unit}?year=2026");
    let page = wang.get(&unit_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let card = page
        .body
        .split(&format!("data-member=\"{member}\""))
        .nth(1)
        .expect("the member's card waits for the unit side");
    assert!(
        card.contains("<strong>优秀</strong> 服务积极"),
        "the community side beside it: {card}"
    );
    let signed = wang
        .act(
            "SignDualCard",
            &unit_page,
            &format!("sign-{member}"),
            &[
                ("member_id", &member.to_string()),
                ("year", "2026"),
                ("side", "unit"),
                ("opinion", "qualified"),
                ("remarks", "工作认真"),
            ],
        )
        .await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    assert_eq!(app.count("DualCardSigned").await, 2);
    let basis = field(&signed.body, "basis_position");
    let appraised = wang
        .act(
            "RecordAppraisal",
            &unit_page,
            &format!("appraise-{member}"),
            &[
                ("member_id", &member.to_string()),
                ("year", "2026"),
                ("rating", "qualified"),
                ("basis_position", &basis),
                ("remarks", "年度评议"),
            ],
        )
        .await;
    assert_eq!(appraised.status, 200, "{}", appraised.body);
    // A rule's refusal beside the form, the log unchanged: the same side twice.
    let (head, _) = app.head().await;
    let again = wang
        .act(
            "SignDualCard",
            &unit_page,
            &format!("sign-{member}"),
            &[
                ("member_id", &member.to_string()),
                ("year", "2026"),
                ("side", "unit"),
                ("opinion", "qualified"),
                ("remarks", "再签一次"),
            ],
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert_eq!(app.head().await.0, head);

    // The service centre publishes a need (the person sealed), pairs a household.
    let (mut centre, home) = signed_in(&app, role_invite("service_centre"), "centre").await;
    assert_eq!(home, "/centre");
    let published = centre
        .act(
            "PublishWish",
            "/centre",
            "publish",
            &[
                ("origin", "service_need"),
                ("title", "帮独居老人买米"),
                ("category", "community_service"),
                ("beneficiary", "陈奶奶"),
                ("beneficiary_contact", "13800000000"),
                ("deadline", "2026-06-30T18:00"),
                ("volunteers", "2"),
            ],
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(app.count("WishPublished").await, 1);
    assert!(published.body.contains("帮独居老人买米"));
    assert!(
        !published.body.contains("陈奶奶") && !published.body.contains("13800000000"),
        "the person is never shown on the page"
    );
    let household = centre
        .act(
            "RegisterHousehold",
            "/centre",
            "household",
            &[("address_area", "城东三组"), ("hardship", "独居，行动不便")],
        )
        .await;
    assert_eq!(household.status, 200, "{}", household.body);
    let household_id = household
        .body
        .split("data-household=\"")
        .nth(1)
        .and_then(|rest| rest.get(..36))
        .expect("the household listed")
        .to_owned();
    assert!(
        !household.body.contains("独居，行动不便"),
        "the hardship is sealed"
    );
    let paired = centre
        .act(
            "PairHousehold",
            "/centre",
            "pair",
            &[
                ("household_id", &household_id),
                ("cadre_id", &member.to_string()),
            ],
        )
        .await;
    assert_eq!(paired.status, 200, "{}", paired.body);
    assert!(paired.body.contains("结对干部: 李华"), "{}", paired.body);
    // The paired cadre records a visit from their own page; the centre sees it.
    let visited = lihua
        .act(
            "RecordVisit",
            "/my",
            "visit",
            &[
                ("household_id", &household_id),
                ("date", "2026-06-15"),
                ("notes", "送去米和油"),
            ],
        )
        .await;
    assert_eq!(visited.status, 200, "{}", visited.body);
    assert!(visited.body.contains("城东三组"), "{}", visited.body);
    assert!(
        centre
            .get("/centre")
            .await
            .body
            .contains("走访次数 1 (2026-06-15)"),
        "the visit counted on the centre's page"
    );
    // A member is no service centre.
    assert_eq!(lihua.get("/centre").await.status, 403);
    assert_eq!(lihua.get("/committee").await.status, 403);

    // The auditor reads everything, changes nothing, walks the chain.
    let (mut auditor, home) = signed_in(&app, role_invite("auditor"), "shenji").await;
    assert_eq!(home, "/audit");
    let page = auditor.get("/audit?year=2026").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains("action=\"/act/"),
        "no form but the walk"
    );
    let csrf = field(&page.body, "csrf");
    let walked = auditor
        .post(
            "/audit/verify",
            &[("csrf", csrf.as_str()), ("year", "2026")],
        )
        .await;
    assert!(walked.body.contains("哈希链校验通过"), "{}", walked.body);
    let (head, _) = app.head().await;
    let refused = auditor
        .act(
            "IssueDualCard",
            "/committee?year=2026",
            "issue-all",
            &[("year", "2026"), ("all_members", "true")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        app.head().await.0,
        head,
        "an auditor's form changes nothing"
    );

    // The year closes once it is over, naming who closes without an appraisal.
    // (Sessions last two weeks: the office signs in again in the new year.)
    app.clock
        .advance(std::time::Duration::from_secs(200 * 24 * 3600));
    assert_eq!(office.get("/committee").await.location, "/signin");
    let (mut office, _) = signed_in(&app, role_invite("committee_admin"), "office2").await;
    let page = office.get("/committee?year=2026").await;
    let unappraised: Vec<String> = page
        .body
        .match_indices("name=\"without_appraisal\" value=\"")
        .map(|(at, m)| page.body[at + m.len()..at + m.len() + 36].to_owned())
        .collect();
    assert_eq!(unappraised.len(), 3, "all but the one appraised");
    let mut fields = vec![("year", "2026")];
    for m in &unappraised {
        fields.push(("without_appraisal", m.as_str()));
    }
    let closed = office
        .act("CloseYear", "/committee?year=2026", "close", &fields)
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(app.count("YearClosed").await, 1);

    // Accounts: listed for the committee, one disabled at once.
    let page = office.get("/committee/accounts").await;
    assert!(page.body.contains("lihua") && page.body.contains("shenji"));
    let (mut lihua, _) = signed_in(&app, member_invite(member), "lihua").await;
    assert_eq!(lihua.get("/my").await.status, 200);
    let disabled = office
        .act(
            "DisableAccount",
            "/committee/accounts",
            "disable",
            &[("account_id", &member.to_string()), ("reason", "调离")],
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(lihua.get("/my").await.location, "/signin");
}
