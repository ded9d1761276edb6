//! The console's two languages: `?lang=ja` / `?lang=en`, else the
//! browser's `Accept-Language`; Japanese terms as in the vendor's service
//! text (docs/console.md).

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The first of `ja` or `en` in an `Accept-Language` header, by
    /// quality; English when neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse().ok()))
                .unwrap_or(1.0f32);
            let lang = match tag.split('-').next() {
                Some("ja") => Lang::Ja,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The text of `key` in this language (the key itself when unknown).
    pub fn t(self, key: &'static str) -> &'static str {
        TEXTS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(key, |(_, en, ja)| match self {
                Lang::En => en,
                Lang::Ja => ja,
            })
    }
}

/// (key, English, Japanese).
const TEXTS: &[(&str, &str, &str)] = &[
    ("title", "alma-ext console", "alma-ext コンソール"),
    ("login", "Log in", "ログイン"),
    ("logout", "Log out", "ログアウト"),
    ("username", "User name", "ユーザー名"),
    ("password", "Password", "パスワード"),
    (
        "login_failed",
        "The user name or password is wrong.",
        "ユーザー名またはパスワードが正しくありません。",
    ),
    (
        "login_limited",
        "Too many failed logins. Please wait a few minutes.",
        "ログインの失敗が多すぎます。数分待ってから再度お試しください。",
    ),
    ("machines", "Machines", "マシン"),
    ("licenses", "Licences", "ライセンス"),
    ("contracts", "Contracts", "サポート契約"),
    ("hostname", "Host name", "ホスト名"),
    ("machine_id", "Machine id", "マシン ID"),
    ("type", "Type", "種別"),
    ("os", "OS and version", "OS とバージョン"),
    ("phase", "Lifecycle phase", "フェーズ"),
    ("switch", "Switch state", "切替状態"),
    ("last_checkin", "Last check-in", "最終チェックイン"),
    ("contract", "Contract", "サポート契約"),
    ("system", "System", "システム"),
    ("state", "Registration", "登録状態"),
    (
        "search",
        "Search host name or id",
        "ホスト名または ID で検索",
    ),
    (
        "silent_days",
        "Silent for more than (days)",
        "未チェックイン日数 (超)",
    ),
    ("filter", "Filter", "絞り込み"),
    ("all", "All", "すべて"),
    ("csv", "Download CSV", "CSV をダウンロード"),
    ("prev", "Previous", "前へ"),
    ("next", "Next", "次へ"),
    ("of", "of", "件中"),
    ("machines_count", "machines", "台"),
    ("facts", "Facts", "収集した情報"),
    ("customer", "Customer", "お客様"),
    ("product", "Product", "製品"),
    ("quantity", "Licences bought", "購入本数"),
    ("starts", "Starts", "開始日"),
    ("ends", "Ends", "終了日"),
    ("status", "Status", "状態"),
    ("machines_registered", "Machines", "マシン数"),
    ("create", "Create contract", "契約を作成"),
    ("extend", "Extend 1 year", "1 年延長"),
    ("revoke", "Revoke", "失効"),
    (
        "rekey",
        "New activation key",
        "アクティベーションキー再発行",
    ),
    (
        "new_key",
        "Activation key (shown only once; copy it now):",
        "アクティベーションキー (この一度だけ表示されます。今すぐ控えてください):",
    ),
    ("per_system", "Per system", "システムごと"),
    ("per_contract", "Per contract", "契約ごと"),
    ("kind", "Kind", "種類"),
    ("hosts", "Hosts", "ホストマシン"),
    ("guests", "Guests", "ゲスト"),
    ("chosen", "Chosen", "選択"),
    (
        "per_unit_cost",
        "Per-unit cost (yen/year)",
        "台数課金 (円/年)",
    ),
    (
        "platform_cost",
        "Platform cost (yen/year)",
        "仮想基盤向け (円/年)",
    ),
    (
        "yearly_cost",
        "Yearly cost (yen, before tax)",
        "年額 (円, 税抜)",
    ),
    ("total", "Total", "合計"),
    ("bought", "Bought", "購入"),
    ("needed", "Needed", "必要"),
    ("deployment", "Deployment", "配備状況"),
    (
        "over_deployed",
        "Over-deployed: more licences needed",
        "超過: ライセンスが不足しています",
    ),
    (
        "under_deployed",
        "Under-deployed: licences unused",
        "未使用のライセンスがあります",
    ),
    ("ok", "OK", "適正"),
    ("physical", "physical", "物理"),
    ("virtual", "virtual", "仮想"),
    ("platform", "platform", "仮想基盤"),
    ("hypervisor", "hypervisor host", "ホストマシン"),
    ("cloud", "cloud", "パブリッククラウド"),
    ("container", "container", "コンテナ"),
    ("unknown", "unknown", "不明"),
    ("full", "full support", "フルサポート"),
    ("security", "security support", "セキュリティサポート"),
    ("extended", "extended support", "延長サポート期間"),
    ("ended", "ended", "サポート終了"),
    ("prerelease", "before release", "リリース前"),
    ("none", "none", "なし"),
    ("community", "community", "コミュニティ"),
    ("switched", "switched", "切替済み"),
    ("failed", "failed", "失敗"),
    ("interrupted", "interrupted", "中断"),
    ("active", "active", "有効"),
    ("clone", "clone", "複製"),
    ("unregistered", "unregistered", "登録解除"),
    ("retired", "retired", "廃止"),
    ("pending", "pending", "開始前"),
    ("expired", "expired", "期限切れ"),
    ("revoked", "revoked", "失効"),
    (
        "forbidden_csrf",
        "The form is out of date; please reload the page.",
        "フォームの有効期限が切れました。ページを再読み込みしてください。",
    ),
    ("not_found", "Not found.", "見つかりません。"),
    ("language", "日本語", "English"),
    ("history", "Registered / retired", "登録 / 廃止"),
    ("readiness", "Readiness", "延長サポート期間への準備"),
    ("alerts", "Alerts", "アラート"),
    // The machine page.
    ("agent", "Agent version", "エージェントのバージョン"),
    ("clone_of", "clone of", "複製元"),
    ("evidence", "Answers and their evidence", "判定とその根拠"),
    ("decides", "Answer", "判定項目"),
    ("answer", "Value", "判定結果"),
    ("source", "Source", "根拠の取得元"),
    ("source_value", "What the source said", "取得元の内容"),
    ("all_facts", "Every fact reported", "報告されたすべての情報"),
    ("checkin_history", "Check-in history", "チェックイン履歴"),
    (
        "checkin_days",
        "Days with a check-in in the last 30 days",
        "直近 30 日間でチェックインがあった日数",
    ),
    (
        "switch_history",
        "Switch state history",
        "リポジトリの切替の履歴",
    ),
    ("when", "When", "日時"),
    ("security_status", "Security status", "セキュリティ状況"),
    (
        "no_security",
        "The machine has not reported a security status.",
        "このマシンからセキュリティ状況の報告はありません。",
    ),
    ("computed_on", "Computed on", "算出日"),
    ("installed", "Installed packages", "インストール済みパッケージ"),
    (
        "cov_extended",
        "Carried by the extended-update repository",
        "延長アップデートサポート専用のリポジトリで提供",
    ),
    (
        "cov_community",
        "Only in AlmaLinux's community repositories",
        "AlmaLinux のコミュニティリポジトリのみで提供",
    ),
    (
        "cov_third_party",
        "Only in other repositories (EPEL, vendors)",
        "その他のリポジトリのみで提供 (EPEL など)",
    ),
    (
        "cov_unavailable",
        "In no enabled repository",
        "有効なリポジトリのいずれにもなし",
    ),
    (
        "pending_advisories",
        "Pending security advisories",
        "未適用のセキュリティアドバイザリ",
    ),
    (
        "extended_coverage",
        "Extended coverage (packages)",
        "延長アップデートサポートの対象 (パッケージ)",
    ),
    // The readiness page.
    ("major", "Major version", "メジャーバージョン"),
    (
        "extended_start",
        "Start of the extended support period",
        "延長サポート期間の開始まで",
    ),
    ("days", "days", "日"),
    ("extended_started", "started", "開始済み"),
    ("not_yet", "not switched yet", "未切替"),
    (
        "chart_title",
        "Machines by lifecycle phase, month by month",
        "フェーズ別のマシン数 (月ごと)",
    ),
    (
        "chart_caption_1",
        "Today's machines counted by the lifecycle phase of their major version on the first day of each month",
        "現在のマシンを、各月 1 日時点のメジャーバージョンのフェーズ別に数えたもの",
    ),
    ("sentence_end", ". ", "。"),
    (
        "chart_caption_2",
        "A projection from the lifecycle table that assumes the fleet stays as it is today; it is not a record of the past.",
        "ライフサイクル表から算出した見通しで、現在の構成が変わらないと仮定しています。過去の実績ではありません。",
    ),
    (
        "not_ready",
        "Not ready: not switched to the extended-update repository",
        "未準備: 延長アップデートサポート専用のリポジトリへ未切替",
    ),
    ("more_rows", "Not shown:", "表示していない件数:"),
    // The alerts page.
    ("alert_silent", "Silent machines", "チェックインのないマシン"),
    (
        "alert_silent_rule",
        "No check-in for more than three check-in intervals:",
        "チェックイン間隔の 3 倍を超えてチェックインがありません:",
    ),
    ("hours", "hours", "時間"),
    ("alert_clones", "Clones", "複製されたマシン"),
    ("alert_failed", "Failed switches", "リポジトリの切替の失敗"),
    (
        "alert_expiring",
        "Contracts ending within 90 days",
        "90 日以内に終了するサポート契約",
    ),
    ("days_left", "Days left", "残り日数"),
    (
        "alert_under",
        "Contracts needing more licences than bought",
        "購入本数を超えて利用しているサポート契約",
    ),
    ("shortfall", "Licences short", "不足本数"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language("ja,en;q=0.8"), Lang::Ja);
        assert_eq!(Lang::from_accept_language("en-US,ja;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr, ja-JP;q=0.3"), Lang::Ja);
        assert_eq!(Lang::from_accept_language("fr"), Lang::En);
    }

    #[test]
    fn every_key_has_both_languages() {
        for (k, en, ja) in TEXTS {
            assert!(!en.is_empty() && !ja.is_empty(), "{k}");
        }
        assert_eq!(Lang::Ja.t("machines"), "マシン");
    }
}
