//! Traceability events, hash-linked to their predecessors, and the lineage graph their
//! input → output edges form.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{
    IN_LIST_CHUNK, Store, StoreError, audit, from_millis, now_millis, placeholders, to_millis,
};

/// One traceability event to store.
#[derive(Debug, Clone)]
pub struct NewTraceEvent {
    /// Event id.
    pub event_id: String,
    /// Hash of the canonical event (unique).
    pub hash: String,
    /// Event type, e.g. `transformation`.
    pub event_type: String,
    /// When the event happened; stored with millisecond precision.
    pub event_time: DateTime<Utc>,
    /// JCS-canonical JSON of the event.
    pub canonical_json: String,
    /// Hashes of the events this one follows; each must already be stored.
    pub previous_hashes: Vec<String>,
    /// Material flow as (input id, output id): the input went into the output.
    pub edges: Vec<(String, String)>,
    /// Who stores it; written to the audit log in the same transaction.
    pub actor: String,
}

/// A stored traceability event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTraceEvent {
    /// Event id.
    pub event_id: String,
    /// Hash of the canonical event.
    pub hash: String,
    /// Event type.
    pub event_type: String,
    /// When the event happened (millisecond precision).
    pub event_time: DateTime<Utc>,
    /// JCS-canonical JSON, byte for byte as stored.
    pub canonical_json: String,
    /// Hashes of its predecessors, in the order given when stored.
    pub previous_hashes: Vec<String>,
    /// When the gateway stored it.
    pub recorded_at: DateTime<Utc>,
}

/// Which way to walk the lineage graph from a passport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LineageDirection {
    /// Towards what went into it (inputs, their inputs, …).
    Upstream,
    /// Towards what it went into (outputs, their outputs, …).
    Downstream,
    /// Both of the above.
    Both,
}

/// The part of the lineage graph reachable from `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lineage {
    /// The passport the walk started from (not repeated in `nodes`).
    pub root: String,
    /// Reached ids, by direction, then depth, then id. With [`LineageDirection::Both`] an id found
    /// on both sides (a cycle) appears once per direction.
    pub nodes: Vec<LineageNode>,
    /// Every edge walked, including ones leading back to an already reached id.
    pub edges: Vec<LineageEdge>,
}

/// One reached id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageNode {
    /// Passport / lot id.
    pub id: String,
    /// Hops from the root (1 = direct input or output).
    pub depth: u32,
    /// [`LineageDirection::Upstream`] or [`LineageDirection::Downstream`], never `Both`.
    pub direction: LineageDirection,
}

/// One input → output edge and the event that recorded it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageEdge {
    /// Input id.
    pub from: String,
    /// Output id.
    pub to: String,
    /// The event that recorded the flow.
    pub event_id: String,
}

impl Store {
    /// Stores an event with its predecessor links and lineage edges in one transaction.
    /// [`StoreError::Duplicate`] if the event id or hash is stored already;
    /// [`StoreError::UnknownPredecessor`] (and nothing stored) if a previous hash is not.
    pub async fn insert_trace_event(&self, e: &NewTraceEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO trace_events \
             (event_id, hash, event_type, event_time, canonical_json, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&e.event_id)
        .bind(&e.hash)
        .bind(&e.event_type)
        .bind(to_millis(e.event_time))
        .bind(&e.canonical_json)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }

        let mut seen = HashSet::new();
        for (position, previous) in (0_i64..).zip(&e.previous_hashes) {
            if !seen.insert(previous.as_str()) {
                continue;
            }
            // An event cannot follow itself, although its own row is already visible here.
            let known = previous != &e.hash
                && sqlx::query("SELECT 1 FROM trace_events WHERE hash = $1")
                    .bind(previous)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if !known {
                return Err(StoreError::UnknownPredecessor(previous.clone()));
            }
            sqlx::query(
                "INSERT INTO trace_event_links (event_id, previous_hash, position) \
                 VALUES ($1, $2, $3)",
            )
            .bind(&e.event_id)
            .bind(previous)
            .bind(position)
            .execute(&mut *tx)
            .await?;
        }

        for (from, to) in &e.edges {
            sqlx::query(
                "INSERT INTO lineage_edges (from_id, to_id, event_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(from)
            .bind(to)
            .bind(&e.event_id)
            .execute(&mut *tx)
            .await?;
        }

        audit::insert(
            &mut tx,
            now,
            &e.actor,
            "trace_event.create",
            &format!("trace_event:{}", e.event_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The event with this id.
    pub async fn trace_event(
        &self,
        event_id: &str,
    ) -> Result<Option<StoredTraceEvent>, StoreError> {
        self.trace_event_where("event_id", event_id).await
    }

    /// The event with this hash (to follow a `previous_hashes` link).
    pub async fn trace_event_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<StoredTraceEvent>, StoreError> {
        self.trace_event_where("hash", hash).await
    }

    async fn trace_event_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<StoredTraceEvent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT event_id, hash, event_type, event_time, canonical_json, recorded_at \
             FROM trace_events WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let event_id: String = row.try_get("event_id")?;
        let previous_hashes = sqlx::query_scalar(
            "SELECT previous_hash FROM trace_event_links WHERE event_id = $1 ORDER BY position",
        )
        .bind(&event_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Some(StoredTraceEvent {
            event_id,
            hash: row.try_get("hash")?,
            event_type: row.try_get("event_type")?,
            event_time: from_millis(row.try_get("event_time")?)?,
            canonical_json: row.try_get("canonical_json")?,
            previous_hashes,
            recorded_at: from_millis(row.try_get("recorded_at")?)?,
        }))
    }

    /// Breadth-first walk of the lineage edges from `passport_id`, at most `max_depth` hops each
    /// way. Each id is reached once per direction (at its smallest depth), so cycles end the walk.
    pub async fn lineage(
        &self,
        passport_id: &str,
        direction: LineageDirection,
        max_depth: u32,
    ) -> Result<Lineage, StoreError> {
        let directions: &[LineageDirection] = match direction {
            LineageDirection::Upstream => &[LineageDirection::Upstream],
            LineageDirection::Downstream => &[LineageDirection::Downstream],
            LineageDirection::Both => &[LineageDirection::Upstream, LineageDirection::Downstream],
        };
        let mut conn = self.pool.acquire().await?;
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        let mut edges_seen = HashSet::new();
        for &direction in directions {
            let mut reached = HashSet::from([passport_id.to_owned()]);
            let mut frontier = vec![passport_id.to_owned()];
            for depth in 1..=max_depth {
                if frontier.is_empty() {
                    break;
                }
                let mut next = BTreeSet::new();
                for edge in edges_touching(&mut conn, direction, &frontier).await? {
                    let neighbour = match direction {
                        LineageDirection::Upstream => &edge.from,
                        _ => &edge.to,
                    };
                    if reached.insert(neighbour.clone()) {
                        next.insert(neighbour.clone());
                    }
                    if edges_seen.insert(edge.clone()) {
                        edges.push(edge);
                    }
                }
                nodes.extend(next.iter().map(|id| LineageNode {
                    id: id.clone(),
                    depth,
                    direction,
                }));
                frontier = next.into_iter().collect();
            }
        }
        Ok(Lineage {
            root: passport_id.to_owned(),
            nodes,
            edges,
        })
    }
}

/// Edges into (upstream) or out of (downstream) any of `ids`, in a stable order.
async fn edges_touching(
    conn: &mut AnyConnection,
    direction: LineageDirection,
    ids: &[String],
) -> Result<Vec<LineageEdge>, StoreError> {
    let column = match direction {
        LineageDirection::Upstream => "to_id",
        _ => "from_id",
    };
    let mut edges = Vec::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let sql = format!(
            "SELECT from_id, to_id, event_id FROM lineage_edges WHERE {column} IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        edges.extend(
            rows.iter()
                .map(edge_from_row)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    // Sorted here rather than in SQL so both backends agree (Postgres would sort by collation).
    edges.sort();
    Ok(edges)
}

fn edge_from_row(row: &AnyRow) -> Result<LineageEdge, StoreError> {
    Ok(LineageEdge {
        from: row.try_get("from_id")?,
        to: row.try_get("to_id")?,
        event_id: row.try_get("event_id")?,
    })
}
