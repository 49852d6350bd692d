//! Conformance runs of partners' endpoints: each run is stored with its report, and the partner's
//! state follows the latest run in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{PartnerState, Store, StoreError, audit, from_millis, now_millis};

/// A finished run to record.
#[derive(Debug, Clone)]
pub struct NewConformanceRun {
    /// The partner checked.
    pub partner: String,
    /// Cases passed.
    pub passed: i64,
    /// Cases failed.
    pub failed: i64,
    /// Mandatory cases failed; zero makes the partner `verified`.
    pub mandatory_failed: i64,
    /// Where the report files were written, if anywhere.
    pub report_dir: Option<String>,
    /// The machine-readable report.
    pub report_json: String,
    /// Who ran it.
    pub actor: String,
}

/// A recorded run.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceRun {
    /// Run id.
    pub id: String,
    /// The partner checked.
    pub partner: String,
    /// When it finished.
    pub run_at: DateTime<Utc>,
    /// Cases passed.
    pub passed: i64,
    /// Cases failed.
    pub failed: i64,
    /// Mandatory cases failed.
    pub mandatory_failed: i64,
    /// Where the report files were written.
    pub report_dir: Option<String>,
    /// The machine-readable report.
    pub report: serde_json::Value,
}

impl Store {
    /// Stores a run and sets the partner `verified` (no mandatory failure) or `failed`, atomically.
    /// Returns the state the partner is in now.
    pub async fn record_conformance_run(
        &self,
        run: &NewConformanceRun,
    ) -> Result<PartnerState, StoreError> {
        let now = now_millis();
        let state = if run.mandatory_failed == 0 {
            PartnerState::Verified
        } else {
            PartnerState::Failed
        };
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE partners SET state = $1, revision = revision + 1, updated_at = $2 WHERE name = $3",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(&run.partner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO conformance_runs \
             (id, partner, run_at, passed, failed, mandatory_failed, report_dir, report_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&run.partner)
        .bind(now)
        .bind(run.passed)
        .bind(run.failed)
        .bind(run.mandatory_failed)
        .bind(run.report_dir.as_deref())
        .bind(&run.report_json)
        .execute(&mut *tx)
        .await?;
        audit::insert(
            &mut tx,
            now,
            &run.actor,
            &format!("partner.conformance.{state}"),
            &format!("partner:{}", run.partner),
        )
        .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// The latest run of `partner`, if any.
    pub async fn latest_conformance_run(
        &self,
        partner: &str,
    ) -> Result<Option<ConformanceRun>, StoreError> {
        let row = sqlx::query(
            "SELECT id, partner, run_at, passed, failed, mandatory_failed, report_dir, report_json \
             FROM conformance_runs WHERE partner = $1 ORDER BY run_at DESC, id DESC LIMIT 1",
        )
        .bind(partner)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let report_json: String = row.try_get("report_json")?;
        Ok(Some(ConformanceRun {
            id: row.try_get("id")?,
            partner: row.try_get("partner")?,
            run_at: from_millis(row.try_get("run_at")?)?,
            passed: row.try_get("passed")?,
            failed: row.try_get("failed")?,
            mandatory_failed: row.try_get("mandatory_failed")?,
            report_dir: row.try_get("report_dir")?,
            report: serde_json::from_str(&report_json).map_err(|e| {
                StoreError::Corrupt(format!("conformance report of {partner}: {e}"))
            })?,
        }))
    }
}
