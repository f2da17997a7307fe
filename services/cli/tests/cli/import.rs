//! `allweather import roster`: a county's roster from the spreadsheet it keeps. A dry run
//! names every bad row and column; the real run registers branches and members, assigns
//! service branches and appoints secretaries; a second run appends nothing; the same
//! roster as two CSV files with Chinese headers reads alike.

use crate::run;
use allweather_log::{Log, LogOptions};
use std::path::Path;

/// Writes a roster workbook: sheets `branches` and `members`, headers then rows.
fn workbook(path: &Path, branches: &[[&str; 3]], members: &[[&str; 6]]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("branches").expect("sheet");
    for (r, row) in [["name", "kind", "community"]]
        .iter()
        .chain(branches)
        .enumerate()
    {
        for (c, cell) in row.iter().enumerate() {
            sheet
                .write_string(r as u32, c as u16, *cell)
                .expect("write");
        }
    }
    let sheet = book.add_worksheet().set_name("members").expect("sheet");
    let header = [
        "name",
        "unit_branch",
        "service_branch",
        "joined_on",
        "cadre",
        "secretary_of",
    ];
    for (r, row) in [header].iter().chain(members).enumerate() {
        for (c, cell) in row.iter().enumerate() {
            // A date typed into a spreadsheet is a date cell, not text.
            if c == 3
                && r > 0
                && let Ok(d) = chrono::NaiveDate::parse_from_str(cell, "%Y-%m-%d")
            {
                let date = rust_xlsxwriter::ExcelDateTime::from_ymd(
                    u16::try_from(chrono::Datelike::year(&d)).expect("year"),
                    chrono::Datelike::month(&d) as u8,
                    chrono::Datelike::day(&d) as u8,
                )
                .expect("date");
                let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
                sheet
                    .write_datetime_with_format(r as u32, c as u16, &date, &format)
                    .expect("write");
            } else {
                sheet
                    .write_string(r as u32, c as u16, *cell)
                    .expect("write");
            }
        }
    }
    book.save(path).expect("save the workbook");
}

async fn count(data_dir: &Path, event_type: &str) -> usize {
    let log = Log::open(LogOptions::sqlite_file(&data_dir.join("log.db")))
        .await
        .expect("open");
    let n = log
        .read_all(0, 100_000)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.event_type == event_type)
        .count();
    log.shutdown().await;
    n
}

#[tokio::test]
async fn a_roster_is_checked_row_by_row_then_imported_once_from_xlsx_or_csv() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let data_dir = data.to_str().expect("utf-8");
    let bad = dir.path().join("bad.xlsx");
    workbook(
        &bad,
        &[
            ["Water Bureau branch", "unit", ""],
            ["East Street service branch", "service", ""],
            ["Tax Bureau branch", "office", ""],
        ],
        &[
            [
                "Li Hua",
                "Water Bureau branch",
                "East Street service branch",
                "2010-06-01",
                "yes",
                "",
            ],
            ["", "Nowhere branch", "", "not a date", "perhaps", ""],
        ],
    );
    let dry = run(&[
        "--data-dir",
        data_dir,
        "import",
        "roster",
        bad.to_str().expect("utf-8"),
        "--dry-run",
    ]);
    assert!(!dry.status.success());
    let said = String::from_utf8_lossy(&dry.stderr);
    let file = format!("{}[branches]", bad.display());
    let members = format!("{}[members]", bad.display());
    for expected in [
        format!("{file}:3: community: a service or temporary branch names its community"),
        format!("{file}:4: kind: \"office\" is not a kind"),
        format!("{members}:3: name: a member needs a name"),
        format!("{members}:3: unit_branch: no branch \"Nowhere branch\""),
        format!("{members}:3: joined_on: \"not a date\" is not a date (YYYY-MM-DD)"),
        format!("{members}:3: cadre: \"perhaps\" is not yes or no"),
    ] {
        assert!(said.contains(&expected), "{expected}\nin:\n{said}");
    }
    assert!(!data.join("log.db").exists(), "a dry run writes nothing");

    let good = dir.path().join("roster.xlsx");
    workbook(
        &good,
        &[
            ["Water Bureau branch", "unit", ""],
            ["East Street service branch", "service", "East Street"],
        ],
        &[
            [
                "Zhang Wei",
                "Water Bureau branch",
                "East Street service branch",
                "2001-03-02",
                "是",
                "East Street service branch",
            ],
            [
                "Li Hua",
                "Water Bureau branch",
                "East Street service branch",
                "2010-06-01",
                "no",
                "",
            ],
            [
                "Zhao Min",
                "Water Bureau branch",
                "",
                "2003-04-05",
                "",
                "Water Bureau branch",
            ],
        ],
    );
    let good = good.to_str().expect("utf-8");
    let dry = run(&[
        "--data-dir",
        data_dir,
        "import",
        "roster",
        good,
        "--dry-run",
    ]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let imported = run(&["--data-dir", data_dir, "import", "roster", good]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert_eq!(count(&data, "BranchRegistered").await, 2);
    assert_eq!(count(&data, "MemberRegistered").await, 3);
    assert_eq!(count(&data, "ServiceBranchAssigned").await, 2);
    assert_eq!(count(&data, "SecretaryAppointed").await, 2);
    let head = |data: &Path| {
        let data = data.to_owned();
        async move {
            let log = Log::open(LogOptions::sqlite_file(&data.join("log.db")))
                .await
                .expect("open");
            let head = log.head().await.expect("head").position;
            log.shutdown().await;
            head
        }
    };
    let before = head(&data).await;
    let again = run(&["--data-dir", data_dir, "import", "roster", good]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(head(&data).await, before, "a second run appends nothing");

    // The same county as CSV with Chinese headers, one more member: only they are added.
    let csv = dir.path().join("csv");
    std::fs::create_dir_all(&csv).expect("dir");
    std::fs::write(
        csv.join("branches.csv"),
        "名称,类型,社区\nWater Bureau branch,机关,\nEast Street service branch,服务,East Street\n",
    )
    .expect("write");
    std::fs::write(
        csv.join("members.csv"),
        "姓名,单位支部,服务支部,入党日期,领导干部,任书记\n\
         Li Hua,Water Bureau branch,East Street service branch,2010-06-01,否,\n\
         Wang Fang,Water Bureau branch,East Street service branch,2015-07-01,否,\n",
    )
    .expect("write");
    let from_csv = run(&[
        "--data-dir",
        data_dir,
        "import",
        "roster",
        csv.join("branches.csv").to_str().expect("utf-8"),
        csv.join("members.csv").to_str().expect("utf-8"),
    ]);
    assert!(
        from_csv.status.success(),
        "{}",
        String::from_utf8_lossy(&from_csv.stderr)
    );
    assert_eq!(count(&data, "BranchRegistered").await, 2);
    assert_eq!(
        count(&data, "MemberRegistered").await,
        4,
        "Wang Fang alone is new"
    );
    assert_eq!(count(&data, "ServiceBranchAssigned").await, 3);
}
