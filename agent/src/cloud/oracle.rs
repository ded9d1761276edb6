//! Oracle Cloud: IMDS v2 (`Authorization: Bearer Oracle`).

use alma_ext_proto::facts::CloudAccount;
use serde_json::Value;

/// Build the account from the instance document. Pure. OCI does not say
/// who published the image, so `official_image` stays unknown.
pub fn from_instance(doc: &str) -> Result<CloudAccount, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("instance document: {e}"))?;
    let s = |x: &Value| x.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(CloudAccount {
        provider: "oci".into(),
        account: s(&v["tenantId"]),
        unit: s(&v["compartmentId"]),
        region: s(&v["canonicalRegionName"]).or_else(|| s(&v["region"])),
        instance_id: s(&v["id"]),
        official_image: None,
        image: s(&v["image"]),
    })
}

pub async fn fetch(c: &reqwest::Client, base: &str) -> Result<CloudAccount, String> {
    let doc = super::get_text(
        c,
        &format!("{base}/opc/v2/instance/"),
        &[("Authorization", "Bearer Oracle")],
    )
    .await?;
    from_instance(&doc)
}
