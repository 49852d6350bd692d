//! API tokens of partners: what a partner sends to `/partner/v1`. The gateway makes each token
//! from 32 random bytes and shows it once; only its SHA-256 is stored, so a copy of the database
//! lets nobody call as a partner.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::partners::{PARTNER_COLUMNS, partner_from_row};
use super::{PartnerRecord, Store, StoreError, audit, from_millis, now_millis};

/// Every partner token starts with this, so a leaked one is recognisable (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "dppp_";

/// Most tokens one partner may hold at once (rotation needs two).
pub const MAX_TOKENS_PER_PARTNER: i64 = 10;

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerToken {
    /// Its id (a UUID), to revoke it by.
    pub id: String,
    /// The partner it belongs to.
    pub partner: String,
    /// The first characters of the token, to tell tokens apart.
    pub hint: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// A new random token: the prefix and 32 random bytes in base64url.
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| StoreError::InvalidInput("the system random source failed".into()))?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token: its SHA-256 in lowercase hex.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a listing shows of a token: the start of its digest (the token itself is not kept).
fn hint_of(digest: &str) -> String {
    format!("sha256:{}", &digest[..digest.len().min(12)])
}

impl Store {
    /// Issues a new token for `partner`: returns it (the only time it is seen) and its listing.
    /// [`StoreError::NotFound`] if there is no such partner, [`StoreError::StateConflict`] when
    /// it holds [`MAX_TOKENS_PER_PARTNER`] already.
    pub async fn issue_partner_token(
        &self,
        partner: &str,
        actor: &str,
    ) -> Result<(String, PartnerToken), StoreError> {
        let token = new_token()?;
        // Time-ordered, so a listing shows tokens in the order they were issued.
        let id = uuid::Uuid::now_v7().to_string();
        let digest = token_digest(&token);
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM partners WHERE name = $1")
            .bind(partner)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound);
        }
        let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM partner_tokens WHERE partner = $1")
            .bind(partner)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if held >= MAX_TOKENS_PER_PARTNER {
            return Err(StoreError::StateConflict(format!(
                "partner {partner} holds {held} tokens, the most allowed; revoke one first"
            )));
        }
        sqlx::query(
            "INSERT INTO partner_tokens (id, partner, token_sha256, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(partner)
        .bind(&digest)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::insert(
            &mut tx,
            now,
            actor,
            "partner.token.issue",
            &format!("partner:{partner}/token:{id}"),
        )
        .await?;
        tx.commit().await?;
        let listed = PartnerToken {
            id,
            partner: partner.to_owned(),
            hint: hint_of(&digest),
            created_at: from_millis(now)?,
        };
        Ok((token, listed))
    }

    /// The tokens of `partner`, oldest first (never the tokens themselves).
    pub async fn partner_tokens(&self, partner: &str) -> Result<Vec<PartnerToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, partner, token_sha256, created_at FROM partner_tokens \
             WHERE partner = $1 ORDER BY created_at, id",
        )
        .bind(partner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let digest: String = row.try_get("token_sha256")?;
                Ok(PartnerToken {
                    id: row.try_get("id")?,
                    partner: row.try_get("partner")?,
                    hint: hint_of(&digest),
                    created_at: from_millis(row.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    /// Revokes one token of `partner` ([`StoreError::NotFound`] if it has no such token).
    pub async fn revoke_partner_token(
        &self,
        partner: &str,
        id: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM partner_tokens WHERE partner = $1 AND id = $2")
            .bind(partner)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            "partner.token.revoke",
            &format!("partner:{partner}/token:{id}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The partner a token belongs to, in one query; `None` for an unknown or revoked token.
    pub async fn partner_for_token(
        &self,
        token: &str,
    ) -> Result<Option<PartnerRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTNER_COLUMNS} FROM partners WHERE name = \
             (SELECT partner FROM partner_tokens WHERE token_sha256 = $1)"
        )))
        .bind(token_digest(token))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(partner_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_stored_as_digests() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_eq!(token_digest(&a).len(), 64);
        assert_ne!(token_digest(&a), token_digest(&b));
    }
}
