//! The switcher's errors under a Japanese locale: `Display` (what logs,
//! the state file and `--format json` carry) stays English, the message
//! the user reads is Japanese, naming the same files, repo ids, URLs and
//! line numbers.

mod common;

use std::collections::BTreeMap;

use alma_ext_i18n::{set_lang, Lang, Localize};
use alma_ext_switcher::plan::PlanError;
use alma_ext_switcher::preflight::{check_local, check_repos, NoAnswer, ProbeResult, RepoProbe};
use common::*;

struct Answer(ProbeResult);

impl RepoProbe for Answer {
    fn probe(&self, _url: &str) -> ProbeResult {
        self.0.clone()
    }
}

fn has_japanese(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}'))
}

#[test]
fn display_stays_english_and_the_user_reads_japanese() {
    set_lang(Lang::Ja);
    let r = fixture_root(9);
    let e = check_local(r.path(), &target(TARGET), chrono::Utc::now()).unwrap_err();
    let (en, ja) = (e.to_string(), e.localized());
    assert!(en.contains("cannot read") && !has_japanese(&en), "{en}");
    assert!(
        ja.contains("を読み込めません")
            && ja.contains("ファイルまたはディレクトリがありません (os error 2)")
            && ja.contains("RPM-GPG-KEY-vendor-extended"),
        "{ja}"
    );

    let mut vars = BTreeMap::new();
    vars.insert("releasever".to_string(), "9".to_string());
    vars.insert("basearch".to_string(), "x86_64".to_string());
    let refused = check_repos(&target(TARGET), &vars, &Answer(Ok(401))).unwrap_err();
    let ja = refused.localized();
    assert!(
        ja.contains("HTTP 401")
            && ja.contains("repodata/repomd.xml")
            && ja.contains("拒否しました")
            && ja.contains("repos.")
            && !ja.contains("s3cret-pw"),
        "{ja}"
    );
    assert!(!has_japanese(&refused.to_string()), "{refused}");
    let unreachable = check_repos(
        &target(TARGET),
        &vars,
        &Answer(Err(NoAnswer {
            url: "https://updates.example.jp/".into(),
            reason: "connection refused".into(),
        })),
    )
    .unwrap_err();
    // The transport's own reason is quoted as it is.
    assert!(
        unreachable.localized().contains("に接続できません")
            && unreachable.localized().contains(": connection refused"),
        "{}",
        unreachable.localized()
    );

    let e = PlanError::UnknownKey {
        key: "BaseOS".into(),
        did_you_mean: Some("baseos".into()),
        ids: "appstream, baseos".into(),
    };
    assert_eq!(
        e.to_string(),
        "target repos.BaseOS: no repo \"BaseOS\" on this machine (repo ids are case-sensitive: \
         did you mean \"baseos\"?); dnf reads the repo ids: appstream, baseos"
    );
    assert!(
        e.localized().starts_with("切替先 repos.BaseOS: ")
            && e.localized().contains("\"baseos\" のことですか"),
        "{}",
        e.localized()
    );
}
