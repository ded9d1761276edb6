//! GCP: the metadata server (`Metadata-Flavor: Google`), one recursive GET.

use alma_ext_proto::facts::CloudAccount;
use serde_json::Value;

/// The project that publishes official AlmaLinux images.
pub const ALMALINUX_IMAGE_PROJECT: &str = "almalinux-cloud";

/// Build the account from the recursive metadata document. Pure.
pub fn from_metadata(doc: &str) -> Result<CloudAccount, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("metadata: {e}"))?;
    let s = |x: &Value| {
        x.as_str()
            .map(str::to_string)
            .or_else(|| x.as_u64().map(|n| n.to_string()))
            .filter(|s| !s.is_empty())
    };
    let project = s(&v["project"]["projectId"]);
    // "projects/123/zones/europe-west1-b" -> "europe-west1"
    let region = s(&v["instance"]["zone"]).map(|z| {
        let zone = z.rsplit('/').next().unwrap_or(&z).to_string();
        match zone.rsplit_once('-') {
            Some((r, _)) => r.to_string(),
            None => zone,
        }
    });
    // "projects/almalinux-cloud/global/images/almalinux-9-v20240101"
    let image = s(&v["instance"]["image"]);
    let image_project = image.as_deref().and_then(|i| {
        let mut parts = i.split('/');
        (parts.next() == Some("projects"))
            .then(|| parts.next())
            .flatten()
            .map(str::to_string)
    });
    Ok(CloudAccount {
        provider: "gcp".into(),
        account: project.clone(),
        unit: project,
        region,
        instance_id: s(&v["instance"]["id"]),
        official_image: image
            .as_ref()
            .map(|_| image_project.as_deref() == Some(ALMALINUX_IMAGE_PROJECT)),
        image,
    })
}

pub async fn fetch(c: &reqwest::Client, base: &str) -> Result<CloudAccount, String> {
    let doc = super::get_text(
        c,
        &format!("{base}/computeMetadata/v1/?recursive=true"),
        &[("Metadata-Flavor", "Google")],
    )
    .await?;
    from_metadata(&doc)
}
