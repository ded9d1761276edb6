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
    ("reverted", "reverted", "切り戻し済み"),
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
