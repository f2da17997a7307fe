//! The platform's words, in Chinese (the default) and English. Each page's template reads
//! them from one [`Text`]: a word missing in either language does not compile.

/// The language a page is shown in: Chinese unless the visitor chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// 中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The cookie that keeps the choice.
    pub(crate) const COOKIE: &'static str = "aw_lang";

    /// From the cookie's value.
    pub(crate) fn of(value: Option<&str>) -> Lang {
        match value {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The words.
    pub(crate) fn text(self) -> &'static Text {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// Every word a page shows.
#[derive(Debug)]
pub(crate) struct Text {
    pub html_lang: &'static str,
    pub platform: &'static str,
    pub other_lang: &'static str,
    pub other_lang_code: &'static str,
    pub signin: &'static str,
    pub login: &'static str,
    pub password: &'static str,
    pub password_again: &'static str,
    pub signin_hint: &'static str,
    pub first_signin: &'static str,
    pub first_signin_hint: &'static str,
    pub code: &'static str,
    pub set_password: &'static str,
    pub passwords_differ: &'static str,
    pub wrong_credentials: &'static str,
    pub locked_out: &'static str,
    pub no_such_code: &'static str,
    pub bad_login: &'static str,
    pub login_taken: &'static str,
    pub weak_password: &'static str,
    pub form_expired: &'static str,
    pub signout: &'static str,
    pub signout_everywhere: &'static str,
    pub my_year: &'static str,
    pub as_of_position: &'static str,
    pub criterion: &'static str,
    pub reached: &'static str,
    pub required: &'static str,
    pub met: &'static str,
    pub not_met: &'static str,
    pub informs: &'static str,
    pub still_missing: &'static str,
    pub nothing_missing: &'static str,
    pub card: &'static str,
    pub community_side: &'static str,
    pub unit_side: &'static str,
    pub not_signed: &'static str,
    pub stars: &'static str,
    pub appraisal: &'static str,
    pub none_yet: &'static str,
    pub hours: &'static str,
    pub waiting: &'static str,
    pub verified: &'static str,
    pub rejected: &'static str,
    pub entries: &'static str,
    pub open_wishes: &'static str,
    pub no_open_wishes: &'static str,
    pub my_claims: &'static str,
    pub claim: &'static str,
    pub release: &'static str,
    pub log_hours: &'static str,
    pub date: &'static str,
    pub category: &'static str,
    pub activity: &'static str,
    pub send: &'static str,
    pub done: &'static str,
    pub no_member: &'static str,
    pub categories: [(&'static str, &'static str); 7],
    pub criteria: [(&'static str, &'static str); 7],
}

pub(crate) static ZH: Text = Text {
    html_lang: "zh-CN",
    platform: "全天候党员服务平台",
    other_lang: "English",
    other_lang_code: "en",
    signin: "登录",
    login: "登录名",
    password: "密码",
    password_again: "再次输入密码",
    signin_hint: "第一次登录？请使用支部书记或县委发给您的登录码。",
    first_signin: "首次登录",
    first_signin_hint: "请设置您的登录名（3至32位小写字母、数字或 . _ -）和密码（至少8位）。",
    code: "登录码",
    set_password: "设置密码并登录",
    passwords_differ: "两次输入的密码不一致。",
    wrong_credentials: "登录名或密码不正确。",
    locked_out: "登录失败次数过多，账号暂时锁定，请稍后再试。",
    no_such_code: "登录码无效、已使用或已过期，请向支部书记或县委索取新的登录码。",
    bad_login: "登录名须为3至32位小写字母、数字或 . _ -，且不能是角色名称。",
    login_taken: "这个登录名已被使用。",
    weak_password: "密码须为8至128个字符，且不能与登录名相同。",
    form_expired: "表单已过期，请刷新页面后重试。",
    signout: "退出",
    signout_everywhere: "在所有设备上退出",
    my_year: "我的年度",
    as_of_position: "数据截至日志位置",
    criterion: "考核项目",
    reached: "完成",
    required: "要求",
    met: "已达标",
    not_met: "未达标",
    informs: "仅供参考",
    still_missing: "尚未达标",
    nothing_missing: "各项要求均已达标。",
    card: "双报到卡",
    community_side: "社区意见",
    unit_side: "单位意见",
    not_signed: "尚未签署",
    stars: "星级",
    appraisal: "评议结果",
    none_yet: "暂无",
    hours: "服务时长",
    waiting: "待审核",
    verified: "已审核",
    rejected: "已驳回",
    entries: "条",
    open_wishes: "可认领的心愿和需求",
    no_open_wishes: "目前没有可认领的心愿或需求。",
    my_claims: "我认领的",
    claim: "认领",
    release: "放弃认领",
    log_hours: "登记服务时长",
    date: "日期",
    category: "类别",
    activity: "服务内容",
    send: "提交",
    done: "已办理。",
    no_member: "此账号未关联党员。",
    categories: [
        ("community_service", "社区服务"),
        ("convenience_centre", "便民服务中心"),
        ("festival", "节日活动"),
        ("central_work", "中心工作"),
        ("reservoir_resettlement", "水库移民"),
        ("cleanup", "环境整治"),
        ("village_service_street", "村级服务街"),
    ],
    criteria: [
        ("service_points", "志愿服务积分"),
        ("anniversary", "过政治生日"),
        ("community_feedback", "社区季度反馈"),
        ("dual_card", "双报到卡签署"),
        ("stars", "星级"),
        ("wishes_fulfilled", "完成心愿"),
        ("household_visits", "走访结对户"),
    ],
};

pub(crate) static EN: Text = Text {
    html_lang: "en",
    platform: "All-weather members' platform",
    other_lang: "中文",
    other_lang_code: "zh",
    signin: "Sign in",
    login: "Sign-in name",
    password: "Password",
    password_again: "Password again",
    signin_hint: "First time? Use the sign-in code your branch secretary or the committee gave you.",
    first_signin: "First sign-in",
    first_signin_hint: "Choose a sign-in name (3 to 32 lower-case letters, digits, . _ or -) and a password (at least 8 characters).",
    code: "Sign-in code",
    set_password: "Set the password and sign in",
    passwords_differ: "The two passwords differ.",
    wrong_credentials: "The sign-in name or the password is wrong.",
    locked_out: "Too many failed sign-ins: the account is locked for a while. Try again later.",
    no_such_code: "The sign-in code is unknown, used or expired: ask your branch secretary or the committee for a new one.",
    bad_login: "The sign-in name must be 3 to 32 lower-case letters, digits, . _ or -, and not a role's name.",
    login_taken: "That sign-in name is taken.",
    weak_password: "The password must be 8 to 128 characters and not the sign-in name.",
    form_expired: "The form has expired: reload the page and try again.",
    signout: "Sign out",
    signout_everywhere: "Sign out everywhere",
    my_year: "My year",
    as_of_position: "As of log position",
    criterion: "Criterion",
    reached: "Reached",
    required: "Required",
    met: "met",
    not_met: "not met",
    informs: "for information",
    still_missing: "Still missing",
    nothing_missing: "Every requirement is met.",
    card: "Dual management card",
    community_side: "Community side",
    unit_side: "Unit side",
    not_signed: "not signed yet",
    stars: "Stars",
    appraisal: "Appraisal",
    none_yet: "none yet",
    hours: "Service hours",
    waiting: "waiting",
    verified: "verified",
    rejected: "rejected",
    entries: "entries",
    open_wishes: "Open needs and wishes",
    no_open_wishes: "No open need or wish just now.",
    my_claims: "My claims",
    claim: "Claim",
    release: "Give back",
    log_hours: "Log service hours",
    date: "Date",
    category: "Category",
    activity: "What you did",
    send: "Send",
    done: "Done.",
    no_member: "This account is not a member's.",
    categories: [
        ("community_service", "Community service"),
        ("convenience_centre", "Convenience centre"),
        ("festival", "Festival"),
        ("central_work", "Central work"),
        ("reservoir_resettlement", "Reservoir resettlement"),
        ("cleanup", "Clean-up"),
        ("village_service_street", "Village service street"),
    ],
    criteria: [
        ("service_points", "Service points"),
        ("anniversary", "Anniversary observed"),
        ("community_feedback", "Community feedback each quarter"),
        ("dual_card", "Card sides signed"),
        ("stars", "Stars"),
        ("wishes_fulfilled", "Wishes fulfilled"),
        ("household_visits", "Visits to paired households"),
    ],
};

impl Text {
    /// A member's criterion's name (the stored name when it has none here).
    pub(crate) fn criterion(&self, stored: &str) -> String {
        self.criteria
            .iter()
            .find(|(k, _)| *k == stored)
            .map_or_else(|| stored.to_owned(), |(_, v)| (*v).to_owned())
    }

    /// A category's name.
    pub(crate) fn category(&self, stored: &str) -> &'static str {
        self.categories
            .iter()
            .find(|(k, _)| *k == stored)
            .map_or("", |(_, v)| v)
    }
}
