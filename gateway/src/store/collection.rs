//! Collection records (what came back at end of life, and where it went) and the per-month KPI
//! totals computed from them.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::passports::{decode_cursor, passport_cursor};
use super::{Page, Store, StoreError, audit, ensure_finite, from_millis, get_f64, now_millis};

/// `collected_on` is stored as this text, so string order is date order and the first seven
/// characters are the month.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// One collection record to store.
#[derive(Debug, Clone)]
pub struct NewCollectionRecord {
    /// Record id.
    pub id: String,
    /// Day the material was collected.
    pub collected_on: NaiveDate,
    /// JCS-canonical JSON of the record.
    pub canonical_json: String,
    /// Quantities per product category.
    pub entries: Vec<CollectionEntryRow>,
    /// Who stores it; written to the audit log in the same transaction.
    pub actor: String,
}

/// Quantities of one product category in a collection record, in kilograms.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionEntryRow {
    /// Product category, e.g. `automotive-exterior`.
    pub category: String,
    /// Collected in total.
    pub collected_kg: f64,
    /// Reused as parts.
    pub reused_parts_kg: f64,
    /// Recycled into material.
    pub material_recycling_kg: f64,
    /// Recovered as energy.
    pub thermal_recycling_kg: f64,
    /// Landfilled or incinerated without recovery.
    pub disposal_kg: f64,
}

/// Sums for one month and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryTotals {
    /// Month, `YYYY-MM`.
    pub period: String,
    /// Product category.
    pub category: String,
    /// Collected in total, kg.
    pub collected_kg: f64,
    /// Reused as parts, kg.
    pub reused_parts_kg: f64,
    /// Recycled into material, kg.
    pub material_recycling_kg: f64,
    /// Recovered as energy, kg.
    pub thermal_recycling_kg: f64,
    /// Disposed of, kg.
    pub disposal_kg: f64,
}

/// A stored collection record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCollectionRecord {
    /// Record id.
    pub id: String,
    /// Day the material was collected.
    pub collected_on: NaiveDate,
    /// JCS-canonical JSON, byte for byte as stored.
    pub canonical_json: String,
    /// When the gateway stored it.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Which collection records a listing returns; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct CollectionRecordFilter {
    /// Collected on or after this day.
    pub from: Option<NaiveDate>,
    /// Collected on or before this day.
    pub to: Option<NaiveDate>,
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<StoredCollectionRecord, StoreError> {
    let collected_on: String = row.try_get("collected_on")?;
    Ok(StoredCollectionRecord {
        id: row.try_get("id")?,
        collected_on: NaiveDate::parse_from_str(&collected_on, DATE_FORMAT).map_err(|e| {
            StoreError::Corrupt(format!("collected_on {collected_on:?} is not a date: {e}"))
        })?,
        canonical_json: row.try_get("canonical_json")?,
        recorded_at: from_millis(row.try_get("recorded_at")?)?,
    })
}

impl Store {
    /// The collection record with this id.
    pub async fn collection_record(
        &self,
        id: &str,
    ) -> Result<Option<StoredCollectionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, collected_on, canonical_json, recorded_at FROM collection_records \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Collection records matching `filter`, in id order, `limit` (at most
    /// [`super::MAX_PAGE_SIZE`]) per page; `after` is the `next_cursor` of the page before
    /// ([`StoreError::InvalidCursor`] if it is not one).
    pub async fn list_collection_records(
        &self,
        filter: &CollectionRecordFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredCollectionRecord>, StoreError> {
        let limit = limit.clamp(1, super::MAX_PAGE_SIZE);
        let after = after.map(decode_cursor).transpose()?;
        // Absent bounds bind as values no record passes beyond, so there is one statement.
        let from = filter
            .from
            .map_or_else(String::new, |d| d.format(DATE_FORMAT).to_string());
        let to = filter
            .to
            .map_or_else(|| "~".to_owned(), |d| d.format(DATE_FORMAT).to_string());
        let rows = sqlx::query(
            "SELECT id, collected_on, canonical_json, recorded_at FROM collection_records \
             WHERE collected_on >= $1 AND collected_on <= $2 AND id > $3 \
             ORDER BY id LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(after.unwrap_or_default())
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|r| passport_cursor(&r.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Stores a record and its entries in one transaction; [`StoreError::Duplicate`] (and nothing
    /// stored) if the id exists.
    pub async fn insert_collection_record(
        &self,
        r: &NewCollectionRecord,
    ) -> Result<(), StoreError> {
        for e in &r.entries {
            for (what, kg) in [
                ("collected_kg", e.collected_kg),
                ("reused_parts_kg", e.reused_parts_kg),
                ("material_recycling_kg", e.material_recycling_kg),
                ("thermal_recycling_kg", e.thermal_recycling_kg),
                ("disposal_kg", e.disposal_kg),
            ] {
                ensure_finite(what, kg)?;
            }
        }
        let mut tx = self.begin_write().await?;
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO collection_records (id, collected_on, canonical_json, recorded_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&r.id)
        .bind(r.collected_on.format(DATE_FORMAT).to_string())
        .bind(&r.canonical_json)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        for (position, e) in (0_i64..).zip(&r.entries) {
            sqlx::query(
                "INSERT INTO collection_entries (record_id, position, category, collected_kg, \
                 reused_parts_kg, material_recycling_kg, thermal_recycling_kg, disposal_kg) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&r.id)
            .bind(position)
            .bind(&e.category)
            .bind(e.collected_kg)
            .bind(e.reused_parts_kg)
            .bind(e.material_recycling_kg)
            .bind(e.thermal_recycling_kg)
            .bind(e.disposal_kg)
            .execute(&mut *tx)
            .await?;
        }
        audit::insert(
            &mut tx,
            now,
            &r.actor,
            "collection_record.create",
            &format!("collection_record:{}", r.id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sums per month and category of the records collected from `from` to `to` (both inclusive),
    /// ordered by period, then category. Months or categories without records are absent.
    pub async fn collection_totals(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CategoryTotals>, StoreError> {
        let rows = sqlx::query(
            "SELECT substr(r.collected_on, 1, 7) AS period, e.category AS category, \
                    SUM(e.collected_kg) AS collected_kg, \
                    SUM(e.reused_parts_kg) AS reused_parts_kg, \
                    SUM(e.material_recycling_kg) AS material_recycling_kg, \
                    SUM(e.thermal_recycling_kg) AS thermal_recycling_kg, \
                    SUM(e.disposal_kg) AS disposal_kg \
             FROM collection_records r JOIN collection_entries e ON e.record_id = r.id \
             WHERE r.collected_on >= $1 AND r.collected_on <= $2 \
             GROUP BY substr(r.collected_on, 1, 7), e.category",
        )
        .bind(from.format(DATE_FORMAT).to_string())
        .bind(to.format(DATE_FORMAT).to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut totals = rows
            .iter()
            .map(|row| {
                Ok(CategoryTotals {
                    period: row.try_get("period")?,
                    category: row.try_get("category")?,
                    collected_kg: get_f64(row, "collected_kg")?,
                    reused_parts_kg: get_f64(row, "reused_parts_kg")?,
                    material_recycling_kg: get_f64(row, "material_recycling_kg")?,
                    thermal_recycling_kg: get_f64(row, "thermal_recycling_kg")?,
                    disposal_kg: get_f64(row, "disposal_kg")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Sorted here so both backends agree (Postgres would order text by its collation).
        totals.sort_by(|a, b| (&a.period, &a.category).cmp(&(&b.period, &b.category)));
        Ok(totals)
    }
}
