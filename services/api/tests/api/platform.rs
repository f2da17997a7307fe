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
