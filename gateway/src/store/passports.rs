//! Passport versions: immutable rows keyed by (id, version), a head row per passport pointing at
//! the latest version, and the product-id / material rows the list filters search.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::partners::PassportSelector;
use super::{
    IN_LIST_CHUNK, Store, StoreError, audit, ensure_finite, from_millis, now_millis, placeholders,
    to_millis,
};

/// Most items one [`Store::list_passports`] page returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One passport version to store.
#[derive(Debug, Clone)]
pub struct NewPassportVersion {
    /// Passport id.
    pub id: String,
    /// 1 for a new passport, latest + 1 for a new version.
    pub version: i64,
    /// JCS-canonical JSON of the passport, as UTF-8.
    pub canonical_json: String,
    /// Compact JWS over the canonical JSON.
    pub jws: String,
    /// Entity tag of this version.
    pub etag: String,
    /// When this version was made; stored with millisecond precision.
    pub updated_at: DateTime<Utc>,
    /// Product identifiers as (scheme, value), e.g. `("gtin", "04012345000009")`.
    pub product_ids: Vec<(String, String)>,
    /// Main materials by mass as (polymer symbol, total recycled share 0..=1): what the polymer
    /// and recycled-share filters search ([`crate::exchange::selector_inputs`]).
    pub polymers: Vec<(String, f64)>,
    /// Who stores it; written to the audit log in the same transaction.
    pub actor: String,
}

/// A stored passport version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassport {
    /// Passport id.
    pub id: String,
    /// Version number, from 1.
    pub version: i64,
    /// JCS-canonical JSON, byte for byte as stored.
    pub canonical_json: String,
    /// Compact JWS over the canonical JSON.
    pub jws: String,
    /// Entity tag of this version.
    pub etag: String,
    /// When this version was made (millisecond precision).
    pub updated_at: DateTime<Utc>,
}

/// One entry of a passport's version history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    /// Version number.
    pub version: i64,
    /// Entity tag of that version.
    pub etag: String,
    /// When that version was made.
    pub updated_at: DateTime<Utc>,
}

/// Conditions on the latest version of a passport; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct PassportFilter {
    /// The main material by mass is of this polymer ([`super::polymer_matches`]).
    pub polymer: Option<String>,
    /// The main material by mass (of `polymer`, if given) has at least this recycled share.
    pub min_recycled_share: Option<f64>,
    /// Some product id has this value, or is `scheme:value`.
    pub product_id: Option<String>,
    /// The latest version was made at or after this instant.
    pub updated_since: Option<DateTime<Utc>>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

const PASSPORT_COLUMNS: &str = "p.id, p.version, p.canonical_json, p.jws, p.etag, p.updated_at";

fn passport_from_row(row: &AnyRow) -> Result<StoredPassport, StoreError> {
    Ok(StoredPassport {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        canonical_json: row.try_get("canonical_json")?,
        jws: row.try_get("jws")?,
        etag: row.try_get("etag")?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

/// Listing cursors are the last id of the page, base64url-encoded so callers treat them as opaque.
/// Listing `after` this cursor goes on with the passports whose ids sort after `last_id`.
pub fn passport_cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id.as_bytes())
}

pub(super) fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))
}

/// A bound value of a query assembled at run time.
enum Arg {
    Text(String),
    Int(i64),
    Float(f64),
}

impl Store {
    /// Stores version 1 of a new passport. [`StoreError::Duplicate`] if the id exists.
    pub async fn insert_passport(&self, v: &NewPassportVersion) -> Result<(), StoreError> {
        if v.version != 1 {
            return Err(StoreError::InvalidInput(format!(
                "a new passport starts at version 1, got {}",
                v.version
            )));
        }
        validate(v)?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO passport_heads (id, latest_version, updated_at) VALUES ($1, 1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&v.id)
        .bind(to_millis(v.updated_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        insert_version_rows(&mut tx, v, "passport.create").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores `v` as the next version if the latest is still `expected_current`; otherwise
    /// [`StoreError::VersionConflict`] with the latest version, or [`StoreError::NotFound`] if the
    /// passport does not exist. `v.version` must be `expected_current + 1`.
    pub async fn insert_next_version(
        &self,
        v: &NewPassportVersion,
        expected_current: i64,
    ) -> Result<(), StoreError> {
        if v.version != expected_current + 1 {
            return Err(StoreError::InvalidInput(format!(
                "next version must be {}, got {}",
                expected_current + 1,
                v.version
            )));
        }
        validate(v)?;
        let mut tx = self.begin_write().await?;
        // Compare-and-swap on the head row: under concurrency exactly one writer sees its
        // expected version (Postgres re-checks the WHERE after waiting on the row lock; SQLite has
        // one writer at a time).
        let swapped = sqlx::query(
            "UPDATE passport_heads SET latest_version = $1, updated_at = $2 \
             WHERE id = $3 AND latest_version = $4",
        )
        .bind(v.version)
        .bind(to_millis(v.updated_at))
        .bind(&v.id)
        .bind(expected_current)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if swapped == 0 {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT latest_version FROM passport_heads WHERE id = $1")
                    .bind(&v.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match current {
                Some(current) => StoreError::VersionConflict { current },
                None => StoreError::NotFound,
            });
        }
        insert_version_rows(&mut tx, v, "passport.update").await?;
        tx.commit().await?;
        Ok(())
    }

    /// A version of a passport; `None` version means the latest.
    pub async fn passport(
        &self,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<StoredPassport>, StoreError> {
        let row =
            match version {
                None => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {PASSPORT_COLUMNS} FROM passport_heads h \
                     JOIN passports p ON p.id = h.id AND p.version = h.latest_version \
                     WHERE h.id = $1"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                }
                Some(version) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {PASSPORT_COLUMNS} FROM passports p WHERE p.id = $1 AND p.version = $2"
                )))
                .bind(id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?,
            };
        row.as_ref().map(passport_from_row).transpose()
    }

    /// All versions of a passport, oldest first; empty if it does not exist.
    pub async fn passport_versions(&self, id: &str) -> Result<Vec<VersionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, etag, updated_at FROM passports WHERE id = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(VersionSummary {
                    version: row.try_get("version")?,
                    etag: row.try_get("etag")?,
                    updated_at: from_millis(row.try_get("updated_at")?)?,
                })
            })
            .collect()
    }

    /// Latest versions of the passports matching `f`, ordered by id (byte-wise), `limit` per page
    /// (at most [`MAX_PAGE_SIZE`], at least 1). Start with `after = None`, then pass the previous
    /// page's `next_cursor`. Passports updated while paging stay in place, so no page repeats or
    /// skips one.
    pub async fn list_passports(
        &self,
        f: &PassportFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredPassport>, StoreError> {
        self.list_passports_within(f, &PassportSelector::default(), after, limit)
            .await
    }

    /// As [`list_passports`](Self::list_passports), only passports a partner's passport
    /// selector `within` selects, decided in the same query (the same rule as
    /// [`PassportSelector::matches`] over the latest version's index rows), so a partner's
    /// search never reads, pages over or counts a passport it may not have.
    pub async fn list_passports_within(
        &self,
        f: &PassportFilter,
        within: &PassportSelector,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredPassport>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let mut sql = format!(
            "SELECT {PASSPORT_COLUMNS} FROM passport_heads h \
             JOIN passports p ON p.id = h.id AND p.version = h.latest_version WHERE 1 = 1"
        );
        let mut args = Vec::new();
        let mut bind = |sql: &mut String, fragment: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&fragment.replace("$?", &format!("${}", args.len())));
        };

        if let Some(cursor) = after {
            bind(
                &mut sql,
                " AND h.id > $?",
                Arg::Text(decode_cursor(cursor)?),
            );
        }
        if let Some(since) = f.updated_since {
            bind(
                &mut sql,
                " AND h.updated_at >= $?",
                Arg::Int(to_millis(since)),
            );
        }
        if let Some(product_id) = &f.product_id {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM passport_product_ids x \
                 WHERE x.passport_id = h.id AND x.version = h.latest_version AND (",
            );
            bind(&mut sql, "x.value = $?", Arg::Text(product_id.clone()));
            // "scheme:value" — split at the first colon; values themselves may contain colons
            // (URIs), which the plain value match above covers.
            if let Some((scheme, value)) = product_id.split_once(':') {
                bind(&mut sql, " OR (x.scheme = $?", Arg::Text(scheme.to_owned()));
                bind(&mut sql, " AND x.value = $?)", Arg::Text(value.to_owned()));
            }
            sql.push_str("))");
        }
        bind_material(
            &mut sql,
            &mut bind,
            "m",
            f.polymer.as_deref(),
            f.min_recycled_share,
            "min_recycled_share",
        )?;
        if !within.ids.is_empty() {
            sql.push_str(" AND h.id IN (");
            for (i, id) in within.ids.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                bind(&mut sql, "$?", Arg::Text(id.clone()));
            }
            sql.push(')');
        }
        if let Some(prefix) = &within.product_id_prefix {
            // `starts_with` as substr + length: LIKE would treat `%`/`_` in the prefix as
            // patterns and is case-insensitive in SQLite. Both backends count characters in
            // substr and length alike, which is a byte-wise prefix test on UTF-8.
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM passport_product_ids s \
                 WHERE s.passport_id = h.id AND s.version = h.latest_version AND (",
            );
            bind(
                &mut sql,
                "substr(s.value, 1, length(CAST($? AS TEXT)))",
                Arg::Text(prefix.clone()),
            );
            bind(&mut sql, " = $?", Arg::Text(prefix.clone()));
            bind(
                &mut sql,
                " OR substr(s.scheme || ':' || s.value, 1, length(CAST($? AS TEXT)))",
                Arg::Text(prefix.clone()),
            );
            bind(&mut sql, " = $?", Arg::Text(prefix.clone()));
            sql.push_str("))");
        }
        // Its own EXISTS: the selector's polymer and share must hold for one material, the
        // caller's filter for one material, not necessarily the same one.
        bind_material(
            &mut sql,
            &mut bind,
            "sm",
            within.polymer.as_deref(),
            within.min_recycled_share,
            "selector min_recycled_share",
        )?;
        // One extra row tells whether another page exists, so the last page has no cursor.
        bind(
            &mut sql,
            " ORDER BY h.id LIMIT $?",
            Arg::Int(i64::from(limit) + 1),
        );

        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in args {
            query = match arg {
                Arg::Text(s) => query.bind(s),
                Arg::Int(i) => query.bind(i),
                Arg::Float(x) => query.bind(x),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(passport_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|p| passport_cursor(&p.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The latest versions of those of `ids` that exist, in no particular order: one query per
    /// 500 ids instead of one per id.
    pub async fn latest_passports(
        &self,
        ids: &[String],
    ) -> Result<Vec<StoredPassport>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT {PASSPORT_COLUMNS} FROM passport_heads h \
                 JOIN passports p ON p.id = h.id AND p.version = h.latest_version \
                 WHERE h.id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(passport_from_row(&row)?);
            }
        }
        Ok(found)
    }

    /// Number of passports (not versions).
    pub async fn passport_count(&self) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passport_heads")
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }
}

/// Appends ` AND <alias>.polymer is of polymer \`wanted\``, the rule of
/// [`super::polymer_matches`]: equal, or `wanted` followed by `+` (a blend's matrix) or `-` (a
/// qualifier or filler). `substr`/`length` rather than LIKE, which would read `%`/`_` in `wanted`
/// as patterns and is case-insensitive in SQLite.
/// `AND EXISTS` one main material (alias `alias`) of the latest version with `polymer` (by
/// [`bind_polymer`]'s rule) and at least `min_share` recycled; nothing when neither is given.
fn bind_material(
    sql: &mut String,
    bind: &mut impl FnMut(&mut String, &str, Arg),
    alias: &str,
    polymer: Option<&str>,
    min_share: Option<f64>,
    share_name: &str,
) -> Result<(), StoreError> {
    if polymer.is_none() && min_share.is_none() {
        return Ok(());
    }
    sql.push_str(&format!(
        " AND EXISTS (SELECT 1 FROM passport_materials {alias} \
         WHERE {alias}.passport_id = h.id AND {alias}.version = h.latest_version"
    ));
    if let Some(polymer) = polymer {
        bind_polymer(sql, bind, alias, polymer);
    }
    if let Some(share) = min_share {
        ensure_finite(share_name, share)?;
        bind(
            sql,
            &format!(" AND {alias}.recycled_share >= $?"),
            Arg::Float(share),
        );
    }
    sql.push(')');
    Ok(())
}

fn bind_polymer(
    sql: &mut String,
    bind: &mut impl FnMut(&mut String, &str, Arg),
    alias: &str,
    wanted: &str,
) {
    bind(
        sql,
        &format!(" AND ({alias}.polymer = $?"),
        Arg::Text(wanted.to_owned()),
    );
    for joint in ['+', '-'] {
        let prefix = format!("{wanted}{joint}");
        bind(
            sql,
            &format!(" OR substr({alias}.polymer, 1, length(CAST($? AS TEXT)))"),
            Arg::Text(prefix.clone()),
        );
        bind(sql, " = $?", Arg::Text(prefix));
    }
    sql.push(')');
}

fn validate(v: &NewPassportVersion) -> Result<(), StoreError> {
    if v.id.is_empty() {
        return Err(StoreError::InvalidInput("passport id is empty".into()));
    }
    for (polymer, share) in &v.polymers {
        ensure_finite(&format!("recycled share of {polymer}"), *share)?;
    }
    Ok(())
}

/// Inserts the immutable rows of one version (after its head row was claimed) and its audit row.
async fn insert_version_rows(
    conn: &mut AnyConnection,
    v: &NewPassportVersion,
    action: &str,
) -> Result<(), StoreError> {
    let now = now_millis();
    sqlx::query(
        "INSERT INTO passports (id, version, canonical_json, jws, etag, updated_at, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&v.id)
    .bind(v.version)
    .bind(&v.canonical_json)
    .bind(&v.jws)
    .bind(&v.etag)
    .bind(to_millis(v.updated_at))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (scheme, value) in &v.product_ids {
        sqlx::query(
            "INSERT INTO passport_product_ids (passport_id, version, scheme, value) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&v.id)
        .bind(v.version)
        .bind(scheme)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    }
    for (position, (polymer, share)) in (0_i64..).zip(&v.polymers) {
        sqlx::query(
            "INSERT INTO passport_materials (passport_id, version, position, polymer, recycled_share) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&v.id)
        .bind(v.version)
        .bind(position)
        .bind(polymer)
        .bind(*share)
        .execute(&mut *conn)
        .await?;
    }
    // Subscriptions queue the version in this same transaction: committed together or not at all.
    super::outbox::enqueue_for_subscriptions(
        &mut *conn,
        &v.id,
        v.version,
        &v.product_ids,
        &v.polymers,
        now,
    )
    .await?;
    let subject = format!("passport:{}@{}", v.id, v.version);
    audit::insert(conn, now, &v.actor, action, &subject).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let id = "urn:dpp:bumper/ä 1";
        assert_eq!(decode_cursor(&passport_cursor(id)).unwrap(), id);
        assert!(matches!(
            decode_cursor("not base64!"),
            Err(StoreError::InvalidCursor(_))
        ));
    }

    #[test]
    fn non_finite_share_is_rejected() {
        let v = NewPassportVersion {
            id: "p".into(),
            version: 1,
            canonical_json: "{}".into(),
            jws: String::new(),
            etag: String::new(),
            updated_at: Utc::now(),
            product_ids: vec![],
            polymers: vec![("PP".into(), f64::NAN)],
            actor: "t".into(),
        };
        assert!(matches!(validate(&v), Err(StoreError::InvalidInput(_))));
    }
}
