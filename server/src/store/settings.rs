//! What administrators configure: declared platforms, switch targets
//! per major version, and settings (the lifecycle table).

use super::{Result, Store, StoreError};

/// A declared virtualization platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlatformRow {
    pub id: String,
    pub hosts: Vec<String>,
    pub choice: String,
}

impl Store {
    // ---- platforms, targets, settings ----

    pub async fn set_platform(&self, id: &str, hosts: &[String], choice: &str) -> Result<()> {
        let hosts = serde_json::to_string(hosts).map_err(|source| StoreError::PlatformHosts {
            id: id.to_string(),
            source,
        })?;
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO platforms (id, hosts, choice) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET hosts = excluded.hosts, choice = excluded.choice"
        )
        .bind(id)
        .bind(&hosts)
        .bind(choice)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_platform(&self, id: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query("DELETE FROM platforms WHERE id = $1")
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn list_platforms(&self) -> Result<Vec<PlatformRow>> {
        let rows: Vec<(String, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, hosts, choice FROM platforms ORDER BY id"
        )
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(id, hosts, choice)| {
                Ok(PlatformRow {
                    hosts: serde_json::from_str(&hosts).map_err(|source| {
                        StoreError::PlatformHosts {
                            id: id.clone(),
                            source,
                        }
                    })?,
                    id,
                    choice,
                })
            })
            .collect()
    }

    /// Store the switch target TOML for a major version.
    pub async fn set_target(&self, major: i64, toml_text: &str, now: i64) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO targets (major, target, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (major) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at"
        )
        .bind(major)
        .bind(toml_text)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn delete_target(&self, major: i64) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "DELETE FROM targets WHERE major = $1"
        )
        .bind(major)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// All targets: (major, TOML).
    pub async fn list_targets(&self) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT major, target FROM targets ORDER BY major"
        )
        .fetch_all(p)
        .await?))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// A small write that must reach the database file (health probe
    /// while writes fail).
    pub async fn probe_write(&self, now: i64) -> Result<()> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ('health_probe', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        })?;
        Ok(())
    }
}
