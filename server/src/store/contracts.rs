//! Support contracts: creating, listing, extending, rekeying, revoking.

use sqlx::Row;

use super::{Result, Store};

/// A support contract.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContractRow {
    pub id: String,
    pub customer: String,
    /// physical, virtual or platform.
    pub product: String,
    pub quantity: i64,
    pub starts: String,
    pub ends: String,
    /// `platform` contracts: the extended-update repository add-on.
    pub platform_updates: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Machines registered (active) under this contract.
    pub machines: i64,
}

pub(super) const CONTRACT_COLS: &str =
    "c.id, c.customer, c.product, c.quantity, c.starts, c.ends, \
     c.platform_updates, c.created_at, c.revoked_at";

pub(super) fn contract_from_row<R: Row>(r: &R, machines: i64) -> Result<ContractRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ContractRow {
        id: r.try_get("id")?,
        customer: r.try_get("customer")?,
        product: r.try_get("product")?,
        quantity: r.try_get("quantity")?,
        starts: r.try_get("starts")?,
        ends: r.try_get("ends")?,
        platform_updates: r.try_get::<i64, _>("platform_updates")? != 0,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        machines,
    })
}

impl Store {
    // ---- contracts ----

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_contract(
        &self,
        id: &str,
        customer: &str,
        product: &str,
        quantity: i64,
        starts: &str,
        ends: &str,
        platform_updates: bool,
        key_hash: &str,
        now: i64,
    ) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO contracts (id, customer, product, quantity, starts, ends, platform_updates, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )
        .bind(id)
        .bind(customer)
        .bind(product)
        .bind(quantity)
        .bind(starts)
        .bind(ends)
        .bind(platform_updates as i64)
        .bind(key_hash)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn list_contracts(&self) -> Result<Vec<ContractRow>> {
        let sql = format!(
            "SELECT {CONTRACT_COLS}, (SELECT COUNT(*) FROM machines m WHERE m.contract_id = c.id AND m.state = 'active') AS n \
             FROM contracts c ORDER BY c.created_at, c.id"
        );
        on_pool!(self, |p| {
            let rows = sqlx::query(&sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| contract_from_row(r, r.try_get("n")?))
                .collect()
        })
    }

    pub async fn get_contract(&self, id: &str) -> Result<Option<ContractRow>> {
        Ok(self
            .list_contracts()
            .await?
            .into_iter()
            .find(|c| c.id == id))
    }

    pub async fn contract_by_key_hash(&self, key_hash: &str) -> Result<Option<ContractRow>> {
        let sql = format!("SELECT {CONTRACT_COLS} FROM contracts c WHERE c.key_hash = $1");
        on_pool!(self, |p| {
            match sqlx::query(&sql).bind(key_hash).fetch_optional(p).await? {
                Some(r) => Ok(Some(contract_from_row(&r, 0)?)),
                None => Ok(None),
            }
        })
    }

    /// Set a contract's end date. False when no such contract.
    pub async fn set_contract_end(&self, id: &str, ends: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET ends = $1 WHERE id = $2"
        )
        .bind(ends)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Revoke a contract now. False when no such contract.
    pub async fn revoke_contract(&self, id: &str, now: i64) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Replace a contract's activation key (by its hash): the old key
    /// registers nothing from this commit on. False when no such contract.
    pub async fn set_contract_key(&self, id: &str, key_hash: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET key_hash = $1 WHERE id = $2"
        )
        .bind(key_hash)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }
}
