//! Receipts of management-API writes sent with an `Idempotency-Key`: the first committed answer
//! per (caller, key), replayed to a client that retries, so a retry never stores a second record.
//!
//! A receipt moves through three states in `inbound_receipts.status`:
//! - `0` *reserved*: a request holds the key (`response_body` carries its private token) and has
//!   committed nothing yet. A reservation older than its lease belonged to a request that died
//!   (process killed); the next retry takes it over with a new token.
//! - `1` *committed*: the request's own write transaction flipped it, in that same transaction
//!   ([`mark_committed`], called by the audit insert every write makes), so a record and this mark
//!   commit together or not at all. A request whose reservation was taken over finds its token
//!   gone and its transaction fails: two requests can never both store a record under one key.
//! - the HTTP status (≥ 100) *answered*: the response (status, the headers that matter, body) is
//!   stored right after the commit. A crash between commit and this write leaves the receipt
//!   `committed`; once its lease is over, a retry learns that the request took effect but its
//!   answer is lost (409), and still no second record is stored.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, now_millis};

/// `status` of a receipt whose request runs and has committed nothing.
const RESERVED: i64 = 0;
/// `status` of a receipt whose request committed its write but whose answer is not stored yet.
const COMMITTED: i64 = 1;
/// Prefix of `response_body` while a request holds the key.
const TOKEN_PREFIX: &str = "reserved:";

tokio::task_local! {
    /// The reservation of the request this task serves, seen by the store's write transactions.
    static ACTIVE_CLAIM: ReceiptClaim;
}

/// A request's hold on an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptClaim {
    /// Who sent the request (the audit actor); keys are per caller.
    pub caller: String,
    /// The `Idempotency-Key`.
    pub key: String,
    token: String,
}

impl ReceiptClaim {
    /// Runs `request` (the handler) with this claim active: every store write it makes marks the
    /// receipt committed in its own transaction.
    pub async fn scope<F: Future>(self, request: F) -> F::Output {
        ACTIVE_CLAIM.scope(self, request).await
    }
}

/// What a caller's key says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is the caller's now: run the request.
    Reserved(ReceiptClaim),
    /// The same request was answered before: send this answer again.
    Replay {
        /// The stored HTTP status.
        status: u16,
        /// The stored answer, as [`Store::finish_receipt`] got it.
        response: String,
    },
    /// The key was used for a different request (method, path or body).
    Mismatch,
    /// A request with this key is running (or died less than a lease ago).
    InProgress,
    /// A request with this key committed its write more than a lease ago, but its answer was
    /// never kept (the gateway stopped in between).
    AnswerLost,
}

impl Store {
    /// Looks `key` up for `caller`; reserves it when it is new, or when its reservation is older
    /// than `lease` (the request holding it died). `request_sha256` identifies the request.
    pub async fn reserve_receipt(
        &self,
        caller: &str,
        key: &str,
        request_sha256: &str,
        lease: Duration,
    ) -> Result<Reservation, StoreError> {
        let claim = ReceiptClaim {
            caller: caller.to_owned(),
            key: key.to_owned(),
            token: format!("{TOKEN_PREFIX}{}", uuid::Uuid::new_v4().simple()),
        };
        let now = now_millis();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT request_sha256, status, response_body, created_at FROM inbound_receipts \
             WHERE partner = $1 AND idempotency_key = $2",
        )
        .bind(caller)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // On PostgreSQL two first requests may race here; the loser inserts nothing and
            // is told the key is in use.
            let inserted = sqlx::query(
                "INSERT INTO inbound_receipts \
                 (partner, idempotency_key, request_sha256, status, response_body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(caller)
            .bind(key)
            .bind(request_sha256)
            .bind(RESERVED)
            .bind(&claim.token)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            return Ok(if inserted == 1 {
                Reservation::Reserved(claim)
            } else {
                Reservation::InProgress
            });
        };
        let stored_sha: String = row.try_get("request_sha256")?;
        let status: i64 = row.try_get("status")?;
        let response: String = row.try_get("response_body")?;
        let created_at: i64 = row.try_get("created_at")?;
        if stored_sha != request_sha256 {
            return Ok(Reservation::Mismatch);
        }
        // Within the lease the request may still be running, or be about to keep its answer.
        let live = now.saturating_sub(created_at) < lease_ms;
        match status {
            RESERVED | COMMITTED if live => Ok(Reservation::InProgress),
            COMMITTED => Ok(Reservation::AnswerLost),
            RESERVED => {
                let taken = sqlx::query(
                    "UPDATE inbound_receipts SET response_body = $1, created_at = $2 \
                     WHERE partner = $3 AND idempotency_key = $4 AND status = $5 \
                     AND response_body = $6",
                )
                .bind(&claim.token)
                .bind(now)
                .bind(caller)
                .bind(key)
                .bind(RESERVED)
                .bind(&response)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(if taken == 1 {
                    tracing::info!(
                        caller,
                        idempotency_key = key,
                        "took over the reservation of a request that did not finish"
                    );
                    Reservation::Reserved(claim)
                } else {
                    Reservation::InProgress
                })
            }
            status => Ok(Reservation::Replay {
                status: u16::try_from(status).map_err(|_| {
                    StoreError::Corrupt(format!("receipt status {status} out of range"))
                })?,
                response,
            }),
        }
    }

    /// Stores the answer of the request holding `claim`. False when the claim was lost (taken
    /// over by a retry after its lease).
    pub async fn finish_receipt(
        &self,
        claim: &ReceiptClaim,
        status: u16,
        response: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE inbound_receipts SET status = $1, response_body = $2 \
             WHERE partner = $3 AND idempotency_key = $4 AND response_body = $5 \
             AND status IN ($6, $7)",
        )
        .bind(i64::from(status))
        .bind(response)
        .bind(&claim.caller)
        .bind(&claim.key)
        .bind(&claim.token)
        .bind(RESERVED)
        .bind(COMMITTED)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Gives the key back after a request that stored nothing (a refused request), so a
    /// corrected retry runs. False when the request did commit (the caller then stores its answer
    /// with [`finish_receipt`](Self::finish_receipt)) or the claim was lost.
    pub async fn release_receipt(&self, claim: &ReceiptClaim) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM inbound_receipts \
             WHERE partner = $1 AND idempotency_key = $2 AND response_body = $3 AND status = $4",
        )
        .bind(&claim.caller)
        .bind(&claim.key)
        .bind(&claim.token)
        .bind(RESERVED)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(deleted == 1)
    }
}

/// Most receipts one pruning statement deletes, so a large backlog never holds SQLite's write
/// lock for long.
const PRUNE_BATCH: i64 = 1_000;

impl Store {
    /// Deletes receipts older than `retention` (of any state: a reservation or a lost answer that
    /// old is long past its lease), in batches; returns how many. A retry after this is a new
    /// request: the key's promise lasts `retention`.
    pub async fn prune_receipts(&self, retention: Duration) -> Result<u64, StoreError> {
        let cutoff =
            now_millis().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        let mut pruned = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM inbound_receipts WHERE (partner, idempotency_key) IN \
                 (SELECT partner, idempotency_key FROM inbound_receipts \
                  WHERE created_at < $1 LIMIT $2)",
            )
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            pruned += deleted;
            if deleted < PRUNE_BATCH as u64 {
                return Ok(pruned);
            }
        }
    }
}

/// Inside a write transaction: when the task serves a request that holds an idempotency key,
/// marks its receipt committed, in this transaction. Fails (rolling the write back) when the
/// reservation was taken over by a retry.
pub(super) async fn mark_committed(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let Ok(claim) = ACTIVE_CLAIM.try_with(Clone::clone) else {
        return Ok(());
    };
    let marked = sqlx::query(
        "UPDATE inbound_receipts SET status = $1 \
         WHERE partner = $2 AND idempotency_key = $3 AND response_body = $4 AND status IN ($5, $6)",
    )
    .bind(COMMITTED)
    .bind(&claim.caller)
    .bind(&claim.key)
    .bind(&claim.token)
    .bind(RESERVED)
    .bind(COMMITTED)
    .execute(conn)
    .await?
    .rows_affected();
    if marked == 1 {
        Ok(())
    } else {
        Err(StoreError::StateConflict(format!(
            "idempotency key {:?} was taken over by a retry of this request; this attempt stored nothing",
            claim.key
        )))
    }
}
