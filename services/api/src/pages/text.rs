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

/// Declares the platform's words: each `name: "中文" / "English",` becomes a field of
/// [`Text`] and its value in [`ZH`] and [`EN`].
macro_rules! words {
    ($($name:ident: $zh:literal / $en:literal,)*) => {
        /// Every word a page shows.
        #[derive(Debug)]
        pub(crate) struct Text {
            $(pub $name: &'static str,)*
            pub categories: [(&'static str, &'static str); 7],
            pub criteria: [(&'static str, &'static str); 7],
            pub ratings: [(&'static str, &'static str); 4],
        }

        pub(crate) static ZH: Text = Text {
            $($name: $zh,)*
            categories: ZH_CATEGORIES,
            criteria: ZH_CRITERIA,
            ratings: ZH_RATINGS,
        };

        pub(crate) static EN: Text = Text {
            $($name: $en,)*
            categories: EN_CATEGORIES,
            criteria: EN_CRITERIA,
            ratings: EN_RATINGS,
        };
    };
}

words! {
    my_households: "我结对的家庭" / "Households paired with me",
    visit_notes: "走访情况" / "What happened",
    record_visit: "记录走访" / "Record the visit",
    skipped_n: " 人未办理（如尚未分配服务支部）" / " left out (for example without a service branch)",
    publish_wish: "发布微心愿或服务需求" / "Publish a micro-wish or a service need",
    origin: "类型" / "Kind",
    micro_wish: "微心愿" / "Micro-wish",
    service_need: "服务需求" / "Service need",
    wish_title: "内容" / "What is wished for",
    beneficiary: "服务对象姓名" / "The person's name",
    beneficiary_contact: "联系方式" / "How to reach them",
    deadline: "截止时间" / "Deadline",
    volunteers: "所需人数" / "Volunteers needed",
    sealed_hint: "服务对象的姓名和联系方式加密保存，只向认领的党员显示。" / "The person's name and contact are sealed, shown only to the member who claims.",
    publish: "发布" / "Publish",
    wishes_followed: "跟踪办理" / "Followed to confirmation",
    confirm: "确认完成" / "Confirm delivery",
    withdraw: "撤回" / "Withdraw",
    households: "结对帮扶家庭" / "Households in need",
    area: "所在片区" / "Area",
    hardship: "困难情况" / "Hardship",
    register_household: "登记家庭" / "Register the household",
    paired_cadre: "结对干部" / "Paired cadre",
    visits: "走访次数" / "Visits",
    pair_with: "结对干部" / "Pair with",
    pair: "结对" / "Pair",
    open_concern: "未解决诉求：" / "Open concern:",
    resolution: "解决情况" / "How it was resolved",
    resolve: "办结" / "Resolve",
    concern_category: "诉求类别" / "Concern's category",
    concern: "诉求内容" / "The concern",
    raise_concern: "登记诉求" / "Raise the concern",
    back: "返回" / "Back",
    accounts: "账号管理" / "Accounts",
    audit_status: "日志审计状态" / "The log's audit status",
    log_head: "日志最新位置" / "Log head",
    read_model: "读模型" / "Read model",
    behind: "条未处理" / "behind",
    chain_broken: "哈希链校验失败：" / "The hash chain is broken:",
    chain_verified: "哈希链校验通过，已校验事件数：" / "The hash chain verifies; events checked:",
    walk_chain: "立即校验整条哈希链" / "Walk the whole hash chain now",
    file_has_problems: "文件有问题，未做任何更改：" / "The file has problems; nothing was changed:",
    choose_file: "请选择文件。" / "Choose a file.",
    rules: "年度规则" / "The year's rules",
    rules_in_force: "本年度规则已通过。" / "Rules are in force for this year.",
    no_rules_in_force: "本年度尚未通过规则。" / "No rules are in force for this year yet.",
    rules_file: "规则文件（.toml）" / "Rules file (.toml)",
    adopt_rules: "通过为本年度规则" / "Adopt as the year's rules",
    reassess: "按草案重新评估（不做更改）" / "Reassess under this draft (changes nothing)",
    reassessed: "按草案重新评估的结果" / "What the draft would change",
    members_changed: "变化的党员：" / "Members changed:",
    branches_changed: "排名变化的支部：" / "Branches whose rank changed:",
    now_contradicted: "将与证据不符" / "now contradicted",
    no_longer_contradicted: "不再与证据不符" / "no longer contradicted",
    members: "党员" / "Members",
    cards_issued: "已发管理卡" / "Cards issued",
    cards_complete: "双方均已签署" / "Both sides signed",
    appraised: "已记录评议" / "Appraisals recorded",
    issue_all: "为全体党员发放管理卡" / "Issue every member's card for",
    rankings: "支部排名" / "Branch rankings",
    branch: "支部" / "Branch",
    kind: "类型" / "Kind",
    score: "得分" / "Score",
    integrity_flags: "数据诚信提示" / "Integrity flags",
    no_flags: "没有提示。" / "No flags.",
    roster_hint: "上传花名册（.xlsx，工作表“支部”和“党员”）。先试运行，列出每个有问题的行和列；正式导入重复运行也不会重复登记。" / "Upload the roster (.xlsx with sheets branches and members). A dry run first lists every bad row and column; a real import run twice registers nothing twice.",
    roster_file: "花名册文件（.xlsx）" / "Roster file (.xlsx)",
    dry_run: "只检查，不导入" / "Check only, import nothing",
    upload: "上传" / "Upload",
    roster_reads_well: "花名册无误：支部行/新登记" / "The roster reads well: branch rows / to register",
    roster_imported: "花名册已导入，新增事件：" / "The roster was imported; events appended:",
    close_year: "年度关账" / "Close the year",
    closed_without_appraisal: "关账时尚无评议的党员（须逐一列明）" / "Members closed without an appraisal (each must be named)",
    give_role_account: "发放岗位账号" / "Give a role's account",
    role_label: "岗位" / "Role",
    disabled: "已停用" / "disabled",
    disable: "停用" / "Disable",
    verdict: "是否达到" / "Verdict",
    done_n: " 项已办理" / " done",
    menu: "菜单" / "Menu",
    committee: "县委工作台" / "Committee",
    centre: "服务中心" / "Service centre",
    audit: "审计" / "Audit",
    year: "年度" / "Year",
    name: "姓名" / "Name",
    points: "积分" / "Points",
    campaign: "主题活动" / "Campaign",
    no_campaign: "（不属于主题活动）" / "(no campaign)",
    evidence: "完成情况" / "What shows it was done",
    fulfil: "标记为已完成" / "Mark fulfilled",
    cards_to_sign: "待本支部签署意见的双向管理卡" / "Cards waiting for this branch's opinion",
    other_side: "另一方意见" / "The other side",
    opinion: "意见" / "Opinion",
    remarks: "评语" / "Remarks",
    sign: "签署" / "Sign",
    without_card: "本年度尚未发放管理卡的党员" / "Members without this year's card",
    issue_selected: "为所选党员发卡" / "Issue cards to those selected",
    stars_to_award: "待评星" / "Stars to award",
    award: "评定" / "Award",
    appraisals_to_record: "待记录的年度评议" / "Appraisals to record",
    basis: "评议依据：日志位置" / "Made on the evidence as of log position",
    record: "记录" / "Record",
    below_required: "积分未达要求的党员" / "Members below the required points",
    meetings: "支部会议" / "Meetings",
    activities: "支部活动" / "Activities",
    meetings_and_activities: "组织生活" / "Meetings and activities",
    topic: "主题" / "Topic",
    attendees: "参加人员" / "Attendees",
    record_meeting: "记为支部会议" / "Record as a meeting",
    record_activity: "记为支部活动" / "Record as an activity",
    html_lang: "zh-CN"
        / "en",
    platform: "全天候党员服务平台"
        / "All-weather members' platform",
    other_lang: "English"
        / "中文",
    other_lang_code: "en"
        / "zh",
    signin: "登录"
        / "Sign in",
    login: "登录名"
        / "Sign-in name",
    password: "密码"
        / "Password",
    password_again: "再次输入密码"
        / "Password again",
    signin_hint: "第一次登录？请使用支部书记或县委发给您的登录码。"
        / "First time? Use the sign-in code your branch secretary or the committee gave you.",
    first_signin: "首次登录"
        / "First sign-in",
    first_signin_hint: "请设置您的登录名（3至32位小写字母、数字或 . _ -）和密码（至少8位）。"
        / "Choose a sign-in name (3 to 32 lower-case letters, digits, . _ or -) and a password (at least 8 characters).",
    code: "登录码"
        / "Sign-in code",
    set_password: "设置密码并登录"
        / "Set the password and sign in",
    passwords_differ: "两次输入的密码不一致。"
        / "The two passwords differ.",
    wrong_credentials: "登录名或密码不正确。"
        / "The sign-in name or the password is wrong.",
    locked_out: "登录失败次数过多，账号暂时锁定，请稍后再试。"
        / "Too many failed sign-ins: the account is locked for a while. Try again later.",
    no_such_code: "登录码无效、已使用或已过期，请向支部书记或县委索取新的登录码。"
        / "The sign-in code is unknown, used or expired: ask your branch secretary or the committee for a new one.",
    bad_login: "登录名须为3至32位小写字母、数字或 . _ -，且不能是角色名称。"
        / "The sign-in name must be 3 to 32 lower-case letters, digits, . _ or -, and not a role's name.",
    login_taken: "这个登录名已被使用。"
        / "That sign-in name is taken.",
    weak_password: "密码须为8至128个字符，且不能与登录名相同。"
        / "The password must be 8 to 128 characters and not the sign-in name.",
    form_expired: "表单已过期，请刷新页面后重试。"
        / "The form has expired: reload the page and try again.",
    invalid_field: "填写的内容格式不对"
        / "A field is not filled in as it should be",
    signout: "退出"
        / "Sign out",
    signout_everywhere: "在所有设备上退出"
        / "Sign out everywhere",
    my_year: "我的年度"
        / "My year",
    as_of_position: "数据截至日志位置"
        / "As of log position",
    criterion: "考核项目"
        / "Criterion",
    reached: "完成"
        / "Reached",
    required: "要求"
        / "Required",
    met: "已达标"
        / "met",
    not_met: "未达标"
        / "not met",
    informs: "仅供参考"
        / "for information",
    still_missing: "尚未达标"
        / "Still missing",
    nothing_missing: "各项要求均已达标。"
        / "Every requirement is met.",
    card: "双报到卡"
        / "Dual management card",
    community_side: "社区意见"
        / "Community side",
    unit_side: "单位意见"
        / "Unit side",
    not_signed: "尚未签署"
        / "not signed yet",
    stars: "星级"
        / "Stars",
    appraisal: "评议结果"
        / "Appraisal",
    none_yet: "暂无"
        / "none yet",
    hours: "服务时长"
        / "Service hours",
    waiting: "待审核"
        / "waiting",
    verified: "已审核"
        / "verified",
    rejected: "已驳回"
        / "rejected",
    entries: "条"
        / "entries",
    open_wishes: "可认领的心愿和需求"
        / "Open needs and wishes",
    no_open_wishes: "目前没有可认领的心愿或需求。"
        / "No open need or wish just now.",
    my_claims: "我认领的"
        / "My claims",
    claim: "认领"
        / "Claim",
    release: "放弃认领"
        / "Give back",
    log_hours: "登记服务时长"
        / "Log service hours",
    date: "日期"
        / "Date",
    category: "类别"
        / "Category",
    activity: "服务内容"
        / "What you did",
    send: "提交"
        / "Send",
    done: "已办理。"
        / "Done.",
    branch_work: "支部工作"
        / "Branch work",
    waiting_for_verification: "待审核的服务时长"
        / "Hours waiting for verification",
    nothing_waiting: "没有待审核的记录。"
        / "Nothing is waiting.",
    verify_selected: "审核通过所选记录"
        / "Verify the selected",
    reject: "驳回"
        / "Reject",
    reason: "理由"
        / "Reason",
    roster: "支部党员"
        / "Roster",
    unit_branch: "单位支部"
        / "unit branch",
    service_branch: "服务支部"
        / "service branch",
    not_permitted: "您无权查看这个页面。"
        / "You may not see this page.",
    my_branches: "我担任书记的支部"
        / "Branches I serve as secretary",
    signin_code_for: "登录码"
        / "Sign-in code for",
    give_code: "发放登录码"
        / "Give a sign-in code",
    code_valid_until: "有效期至"
        / "Valid until",
    code_how: "用手机扫描二维码，或打开下面的网址，输入登录码，设置登录名和密码。登录码只能使用一次。"
        / "Scan the QR code with a phone, or open the address below and enter the code; then choose a sign-in name and a password. The code works once.",
    print: "打印"
        / "Print",
}

const ZH_CATEGORIES: [(&str, &str); 7] = [
    ("community_service", "社区服务"),
    ("convenience_centre", "便民服务中心"),
    ("festival", "节日活动"),
    ("central_work", "中心工作"),
    ("reservoir_resettlement", "水库移民"),
    ("cleanup", "环境整治"),
    ("village_service_street", "村级服务街"),
];

const EN_CATEGORIES: [(&str, &str); 7] = [
    ("community_service", "Community service"),
    ("convenience_centre", "Convenience centre"),
    ("festival", "Festival"),
    ("central_work", "Central work"),
    ("reservoir_resettlement", "Reservoir resettlement"),
    ("cleanup", "Clean-up"),
    ("village_service_street", "Village service street"),
];

const ZH_CRITERIA: [(&str, &str); 7] = [
    ("service_points", "志愿服务积分"),
    ("anniversary", "过政治生日"),
    ("community_feedback", "社区季度反馈"),
    ("dual_card", "双报到卡签署"),
    ("stars", "星级"),
    ("wishes_fulfilled", "完成心愿"),
    ("household_visits", "走访结对户"),
];

const EN_CRITERIA: [(&str, &str); 7] = [
    ("service_points", "Service points"),
    ("anniversary", "Anniversary observed"),
    ("community_feedback", "Community feedback each quarter"),
    ("dual_card", "Card sides signed"),
    ("stars", "Stars"),
    ("wishes_fulfilled", "Wishes fulfilled"),
    ("household_visits", "Visits to paired households"),
];

const ZH_RATINGS: [(&str, &str); 4] = [
    ("excellent", "优秀"),
    ("qualified", "合格"),
    ("basically_qualified", "基本合格"),
    ("unqualified", "不合格"),
];

const EN_RATINGS: [(&str, &str); 4] = [
    ("excellent", "Excellent"),
    ("qualified", "Qualified"),
    ("basically_qualified", "Basically qualified"),
    ("unqualified", "Unqualified"),
];

impl Text {
    /// A member's criterion's name (the stored name when it has none here).
    pub(crate) fn criterion(&self, stored: &str) -> String {
        self.criteria
            .iter()
            .find(|(k, _)| *k == stored)
            .map_or_else(|| stored.to_owned(), |(_, v)| (*v).to_owned())
    }

    /// A rating's name.
    pub(crate) fn rating(&self, stored: &str) -> &'static str {
        self.ratings
            .iter()
            .find(|(k, _)| *k == stored)
            .map_or("", |(_, v)| v)
    }

    /// A wish's status.
    pub(crate) fn wish_status(&self, stored: &str) -> &'static str {
        self.named(WISH_STATUSES, stored)
    }

    /// A branch kind's name.
    pub(crate) fn branch_kind(&self, stored: &str) -> &'static str {
        self.named(BRANCH_KINDS, stored)
    }

    /// A role's name.
    pub(crate) fn role(&self, stored: &str) -> &'static str {
        self.named(ROLES, stored)
    }

    /// An integrity flag's name.
    pub(crate) fn flag(&self, stored: &str) -> &'static str {
        self.named(FLAGS, stored)
    }

    /// `stored`'s name in `table` (stored name, 中文, English), in this language.
    fn named(&self, table: &[(&str, &'static str, &'static str)], stored: &str) -> &'static str {
        let en = self.html_lang == "en";
        table
            .iter()
            .find(|(k, _, _)| *k == stored)
            .map_or("", |(_, zh, english)| if en { english } else { zh })
    }

    /// A category's name.
    pub(crate) fn category(&self, stored: &str) -> &'static str {
        self.categories
            .iter()
            .find(|(k, _)| *k == stored)
            .map_or("", |(_, v)| v)
    }
}

/// Names of stored values: (stored, 中文, English).
type Names = &'static [(&'static str, &'static str, &'static str)];

const WISH_STATUSES: Names = &[
    ("open", "待认领", "open"),
    ("claimed", "已认领", "claimed"),
    ("fulfilled", "已完成待确认", "fulfilled"),
    ("confirmed", "已确认", "confirmed"),
    ("cancelled", "已撤回", "withdrawn"),
];

const BRANCH_KINDS: Names = &[
    ("unit", "机关", "unit"),
    ("service", "服务", "service"),
    ("temporary", "临时", "temporary"),
];

const ROLES: Names = &[
    ("committee_admin", "县委管理员", "committee admin"),
    ("service_centre", "服务中心", "service centre"),
    ("auditor", "审计", "auditor"),
    ("member", "党员", "member"),
];

const FLAGS: Names = &[
    ("over_8_hours_a_day", "单日超过8小时", "over 8 hours a day"),
    ("overlapping_entries", "时间重叠", "overlapping entries"),
    ("bulk_same_activity", "批量相同活动", "many alike entries"),
    (
        "verified_own_entry",
        "本人审核本人记录",
        "verified own entry",
    ),
    (
        "read_then_released",
        "查看对象信息后放弃认领",
        "read a person's details, then released",
    ),
];
