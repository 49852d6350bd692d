//! The push outbox: one row per (partner, passport version) to deliver, claimed with leases so any
//! number of workers and replicas deliver each item once.
//!
//! States: `queued` → `in-flight` (leased to one worker until `lease_until`) → `delivered`, or
//! `failed` (due again at `next_attempt_at`), or `dead` (given up; `retry` re-queues it). A lease
//! that runs out (a worker died) makes the item claimable again. Claiming is one statement:
//! on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass each other; on SQLite the
//! write lock (`BEGIN IMMEDIATE`) serialises claimers and the `WHERE` re-checks state and lease.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::partners::{AccessPolicy, PartnerState, PassportSelector};
use super::{Backend, Page, Store, StoreError, audit, from_millis, now_millis, to_millis};

/// Where an outbox item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboxState {
    /// Waiting for a worker.
    Queued,
    /// Leased to a worker that is delivering it.
    InFlight,
    /// The remote acknowledged it.
    Delivered,
    /// The last attempt failed; due again at `next_attempt_at`.
    Failed,
    /// Given up (attempt limit, or an error retrying cannot fix); `retry` re-queues it.
    Dead,
}

impl OutboxState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::InFlight => "in-flight",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
            OutboxState::Dead => "dead",
        }
    }
}

impl fmt::Display for OutboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboxState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queued" => Ok(OutboxState::Queued),
            "in-flight" => Ok(OutboxState::InFlight),
            "delivered" => Ok(OutboxState::Delivered),
            "failed" => Ok(OutboxState::Failed),
            "dead" => Ok(OutboxState::Dead),
            other => Err(format!(
                "unknown exchange state {other:?}: expected queued, in-flight, delivered, failed or dead"
            )),
        }
    }
}

/// One outbox item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// Its id (UUID v7: ids sort by creation time).
    pub id: String,
    /// The partner it goes to.
    pub partner: String,
    /// The passport.
    pub passport_id: String,
    /// The passport version (fixed when queued).
    pub version: i64,
    /// Sent with every attempt; fixed when queued.
    pub idempotency_key: String,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts started so far.
    pub attempts: i64,
    /// When it is due (for `queued` / `failed`).
    pub next_attempt_at: DateTime<Utc>,
    /// The worker holding the lease (for `in-flight`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The remote's id of the delivered record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// The signed form of what the field policy let through, when it differs from the stored JWS.
    #[serde(skip)]
    pub redacted_jws: Option<String>,
    /// The subscription that queued it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the remote acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Conditions of an outbox listing.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    /// Only items in this state.
    pub state: Option<OutboxState>,
    /// Only items for this partner.
    pub partner: Option<String>,
}

/// How a failed attempt ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// Try again at this instant.
    RetryAt(DateTime<Utc>),
    /// Give up.
    Dead,
}

const OUTBOX_COLUMNS: &str = "id, partner, passport_id, version, idempotency_key, state, attempts, \
    next_attempt_at, lease_owner, lease_until, last_error, remote_id, redacted_jws, \
    subscription_id, created_at, updated_at, delivered_at";

/// Most items one outbox page returns.
pub const MAX_OUTBOX_PAGE: u32 = 500;

fn opt_millis(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?
        .map(from_millis)
        .transpose()
}

fn item_from_row(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(OutboxItem {
        id: row.try_get("id")?,
        partner: row.try_get("partner")?,
        passport_id: row.try_get("passport_id")?,
        version: row.try_get("version")?,
        idempotency_key: row.try_get("idempotency_key")?,
        state: state
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("outbox state: {e}")))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: from_millis(row.try_get("next_attempt_at")?)?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: opt_millis(row, "lease_until")?,
        last_error: row.try_get("last_error")?,
        remote_id: row.try_get("remote_id")?,
        redacted_jws: row.try_get("redacted_jws")?,
        subscription_id: row.try_get("subscription_id")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
        delivered_at: opt_millis(row, "delivered_at")?,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Longest error text kept per item (bytes, cut at a char boundary).
const MAX_ERROR_LEN: usize = 2000;

fn clip(text: &str) -> &str {
    if text.len() <= MAX_ERROR_LEN {
        return text;
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

async fn insert_item(
    conn: &mut AnyConnection,
    partner: &str,
    passport_id: &str,
    version: i64,
    subscription_id: Option<&str>,
    now: i64,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    // The key names us and the item, so a remote's replay cache never confuses two gateways.
    let key = format!("dpp-gw-{}", uuid::Uuid::new_v4().simple());
    sqlx::query(
        "INSERT INTO outbox (id, partner, passport_id, version, idempotency_key, state, attempts, \
         next_attempt_at, subscription_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $6, $6)",
    )
    .bind(&id)
    .bind(partner)
    .bind(passport_id)
    .bind(version)
    .bind(&key)
    .bind(now)
    .bind(subscription_id)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Queues the version just written for every subscription whose filter — and whose partner's
/// policy — selects it, if the partner may receive deliveries. Called inside the transaction that
/// writes the version, so the version and its outbox rows commit together.
pub(super) async fn enqueue_for_subscriptions(
    conn: &mut AnyConnection,
    passport_id: &str,
    version: i64,
    product_ids: &[(String, String)],
    materials: &[(String, f64)],
    now: i64,
) -> Result<usize, StoreError> {
    let rows = sqlx::query(
        "SELECT s.id, s.partner, s.filter_json, p.policy_json, p.state \
         FROM subscriptions s JOIN partners p ON p.name = s.partner ORDER BY s.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut queued = 0;
    for row in &rows {
        let state: String = row.try_get("state")?;
        let deliverable = state
            .parse::<PartnerState>()
            .is_ok_and(PartnerState::may_receive_deliveries);
        if !deliverable {
            continue;
        }
        let filter: String = row.try_get("filter_json")?;
        let policy: String = row.try_get("policy_json")?;
        let filter: PassportSelector = serde_json::from_str(&filter)
            .map_err(|e| StoreError::Corrupt(format!("subscription filter: {e}")))?;
        let policy: AccessPolicy = serde_json::from_str(&policy)
            .map_err(|e| StoreError::Corrupt(format!("partner policy: {e}")))?;
        if filter.matches(passport_id, product_ids, materials)
            && policy
                .passports
                .matches(passport_id, product_ids, materials)
        {
            let subscription: String = row.try_get("id")?;
            let partner: String = row.try_get("partner")?;
            insert_item(
                conn,
                &partner,
                passport_id,
                version,
                Some(&subscription),
                now,
            )
            .await?;
            queued += 1;
        }
    }
    Ok(queued)
}

impl Store {
    /// Queues `passport_id@version` for `partner`; the caller checked partner and policy.
    pub async fn enqueue_delivery(
        &self,
        partner: &str,
        passport_id: &str,
        version: i64,
        actor: &str,
    ) -> Result<OutboxItem, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM passports WHERE id = $1 AND version = $2")
                .bind(passport_id)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let id = insert_item(&mut tx, partner, passport_id, version, None, now).await?;
        audit::insert(
            &mut tx,
            now,
            actor,
            "exchange.enqueue",
            &format!("exchange:{id}"),
        )
        .await?;
        tx.commit().await?;
        self.outbox_item(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("outbox item {id} vanished")))
    }

    /// One outbox item.
    pub async fn outbox_item(&self, id: &str) -> Result<Option<OutboxItem>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// Items matching `f`, oldest first, `limit` per page (1..=[`MAX_OUTBOX_PAGE`]); pass the
    /// previous page's `next_cursor` as `after`.
    pub async fn list_outbox(
        &self,
        f: &OutboxFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OutboxItem>, StoreError> {
        let limit = limit.clamp(1, MAX_OUTBOX_PAGE);
        let mut sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, fragment: &str, arg: String| {
            args.push(arg);
            sql.push_str(&fragment.replace("$?", &format!("${}", args.len())));
        };
        if let Some(cursor) = after {
            let last = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))?;
            push(&mut sql, " AND id > $?", last);
        }
        if let Some(state) = f.state {
            push(&mut sql, " AND state = $?", state.as_str().to_owned());
        }
        if let Some(partner) = &f.partner {
            push(&mut sql, " AND partner = $?", partner.clone());
        }
        sql.push_str(&format!(" ORDER BY id LIMIT {}", i64::from(limit) + 1));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in args {
            query = query.bind(arg);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(item_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|i| URL_SAFE_NO_PAD.encode(i.id.as_bytes()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Number of items per state (states without items are left out); only `partner`'s when given.
    pub async fn outbox_counts(
        &self,
        partner: Option<&str>,
    ) -> Result<Vec<(OutboxState, i64)>, StoreError> {
        let rows = match partner {
            Some(p) => {
                sqlx::query(
                    "SELECT state, COUNT(*) AS n FROM outbox WHERE partner = $1 GROUP BY state",
                )
                .bind(p)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut counts = rows
            .iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                let state: OutboxState = state
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("outbox state: {e}")))?;
                Ok((state, row.try_get::<i64, _>("n")?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        counts.sort_by_key(|(s, _)| s.as_str());
        Ok(counts)
    }

    /// Leases up to `limit` due items to `owner` for `lease`: queued or failed items whose time
    /// has come, and in-flight items whose lease ran out. Each claim counts as an attempt.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let now = now_millis();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET state = 'in-flight', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox \
               WHERE (state IN ('queued', 'failed') AND next_attempt_at <= $3) \
                  OR (state = 'in-flight' AND lease_until <= $3) \
               ORDER BY next_attempt_at, id LIMIT $4{lock}) \
             AND (state IN ('queued', 'failed') OR (state = 'in-flight' AND lease_until <= $3)) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut items = rows
            .iter()
            .map(item_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(items)
    }

    /// Marks a leased item delivered with the remote's id. `false` if `owner` no longer holds its
    /// lease (it ran out and another worker took the item: that worker's attempt carries the same
    /// idempotency key, so the remote sees one delivery).
    pub async fn complete_delivery(
        &self,
        id: &str,
        owner: &str,
        remote_id: &str,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'delivered', remote_id = $1, delivered_at = $2, \
             updated_at = $2, lease_owner = NULL, lease_until = NULL, last_error = NULL \
             WHERE id = $3 AND state = 'in-flight' AND lease_owner = $4",
        )
        .bind(remote_id)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Records a failed attempt of a leased item: due again later, or dead. `false` if `owner`
    /// no longer holds the lease.
    pub async fn fail_delivery(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        outcome: &AttemptFailure,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let (state, next) = match outcome {
            AttemptFailure::RetryAt(at) => ("failed", to_millis(*at)),
            AttemptFailure::Dead => ("dead", now),
        };
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE outbox SET state = $1, last_error = $2, next_attempt_at = $3, updated_at = $4, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND state = 'in-flight' AND lease_owner = $6",
        )
        .bind(state)
        .bind(clip(error))
        .bind(next)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Keeps the signed redacted form of a leased item, so every later attempt sends the same.
    pub async fn set_redacted_jws(
        &self,
        id: &str,
        owner: &str,
        jws: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE outbox SET redacted_jws = $1 WHERE id = $2 AND state = 'in-flight' \
             AND lease_owner = $3",
        )
        .bind(jws)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Gives every item `owner` holds back to the queue, due now (a worker stopping). Their
    /// attempts stay counted: an interrupted attempt may have reached the remote.
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let released = sqlx::query(
            "UPDATE outbox SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
             next_attempt_at = $1, updated_at = $1 WHERE state = 'in-flight' AND lease_owner = $2",
        )
        .bind(now)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(released)
    }

    /// Re-queues a `dead` or `failed` item, due now, with a fresh attempt budget and the same
    /// idempotency key. [`StoreError::NotFound`] if there is no such item,
    /// [`StoreError::StateConflict`] if it is not dead or failed.
    pub async fn retry_delivery(&self, id: &str, actor: &str) -> Result<OutboxItem, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = $1, \
             updated_at = $1 WHERE id = $2 AND state IN ('dead', 'failed')",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match state {
                None => StoreError::NotFound,
                Some(state) => StoreError::StateConflict(format!(
                    "exchange {id} is {state}; only dead or failed exchanges can be retried"
                )),
            });
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            "exchange.retry",
            &format!("exchange:{id}"),
        )
        .await?;
        tx.commit().await?;
        self.outbox_item(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("outbox item {id} vanished")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            OutboxState::Queued,
            OutboxState::InFlight,
            OutboxState::Delivered,
            OutboxState::Failed,
            OutboxState::Dead,
        ] {
            assert_eq!(s.as_str().parse::<OutboxState>().unwrap(), s);
        }
        assert!("lost".parse::<OutboxState>().is_err());
    }

    #[test]
    fn long_errors_are_clipped_at_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN);
        assert!(clipped.chars().all(|c| c == 'é'));
    }
}
