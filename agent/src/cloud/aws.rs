//! AWS: IMDSv2 (session token first), the instance identity document.
//!
//! The identity document has the account, region, instance and AMI id, but
//! not the AMI's owner: IMDS does not publish it. The owner is read from
//! `meta-data/ami-owner-id` where a mirror or a future IMDS provides it;
//! otherwise `official_image` stays unknown and the server, which sees the
//! AMI id, decides.

use alma_ext_proto::facts::CloudAccount;
use serde::Deserialize;

use crate::config::ALMALINUX_AWS_OWNER;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    account_id: Option<String>,
    region: Option<String>,
    instance_id: Option<String>,
    image_id: Option<String>,
}

/// Build the account from the identity document and the AMI owner. Pure.
pub fn from_identity(doc: &str, owner: Option<&str>) -> Result<CloudAccount, String> {
    let id: Identity = serde_json::from_str(doc).map_err(|e| format!("identity document: {e}"))?;
    Ok(CloudAccount {
        provider: "aws".into(),
        account: id.account_id.clone(),
        unit: id.account_id,
        region: id.region,
        instance_id: id.instance_id,
        official_image: owner.map(|o| o.trim() == ALMALINUX_AWS_OWNER),
        image: id.image_id,
    })
}

pub async fn fetch(c: &reqwest::Client, base: &str) -> Result<CloudAccount, String> {
    let resp = c
        .put(format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "300")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("IMDSv2 token: HTTP {}", resp.status()));
    }
    let token = resp.text().await.map_err(|e| e.to_string())?;
    let h = [("X-aws-ec2-metadata-token", token.trim())];
    let doc = super::get_text(
        c,
        &format!("{base}/latest/dynamic/instance-identity/document"),
        &h,
    )
    .await?;
    let owner = super::get_text(c, &format!("{base}/latest/meta-data/ami-owner-id"), &h)
        .await
        .ok();
    from_identity(&doc, owner.as_deref())
}
