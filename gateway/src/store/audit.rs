//! Audit log: who did what to which subject, appended in the same transaction as the change.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, from_millis, now_millis};

/// One audit log row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub seq: i64,
    /// When it was written.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who acted (user, client id, partner).
    pub actor: String,
    /// What happened, e.g. `passport.create`.
    pub action: String,
    /// What it happened to, e.g. `passport:<id>@<version>`.
    pub subject: String,
}

impl Store {
    /// Appends an audit row on its own. The store's write operations already audit themselves in
    /// their own transaction (`passport.create`, `passport.update`, `trace_event.create`,
    /// `collection_record.create`); use this for actions that store nothing else.
    pub async fn audit(&self, actor: &str, action: &str, subject: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, now_millis(), actor, action, subject).await
    }

    /// Audit rows about `subject`, oldest first.
    pub async fn audit_entries(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject FROM audit_log WHERE subject = $1 ORDER BY seq",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    at: from_millis(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                })
            })
            .collect()
    }
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    at_millis: i64,
    actor: &str,
    action: &str,
    subject: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, $2, $3, $4)")
        .bind(at_millis)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .execute(&mut *conn)
        .await?;
    // Every write transaction audits itself, so this is where a request's idempotency receipt
    // is marked committed together with its record.
    super::receipts::mark_committed(conn).await
}
