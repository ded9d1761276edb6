//! Azure: the Instance Metadata Service (`Metadata: true`).

use alma_ext_proto::facts::CloudAccount;
use serde_json::Value;

/// Build the account from the IMDS instance document. Pure.
pub fn from_instance(doc: &str) -> Result<CloudAccount, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("instance document: {e}"))?;
    let c = &v["compute"];
    let s = |x: &Value| x.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let publisher = s(&c["storageProfile"]["imageReference"]["publisher"])
        .or_else(|| s(&c["publisher"]))
        .or_else(|| s(&c["plan"]["publisher"]));
    let offer = s(&c["storageProfile"]["imageReference"]["offer"]).or_else(|| s(&c["offer"]));
    Ok(CloudAccount {
        provider: "azure".into(),
        account: s(&c["subscriptionId"]),
        unit: s(&c["resourceGroupName"]),
        region: s(&c["location"]),
        instance_id: s(&c["vmId"]),
        official_image: Some(
            publisher
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("almalinux")),
        ),
        image: match (publisher, offer) {
            (Some(p), Some(o)) => Some(format!("{p}:{o}")),
            (p, _) => p,
        },
    })
}

pub async fn fetch(c: &reqwest::Client, base: &str) -> Result<CloudAccount, String> {
    let doc = super::get_text(
        c,
        &format!("{base}/metadata/instance?api-version=2021-02-01"),
        &[("Metadata", "true")],
    )
    .await?;
    from_instance(&doc)
}
