//! Traceability events, hash-linked to their predecessors, and the lineage graph their material
//! flow forms.
//!
//! A transformation or aggregation event says "every input went into every output". It is stored
//! as an event hub — its input set and its output set, m + n rows — never as the m × n edges it
//! implies (one 1,000 × 1,000 event used to write a million rows). The lineage walk crosses the
//! hub: upstream from a passport to the events that output it, then to their inputs; downstream
//! the other way round. One such crossing is one hop of depth.
//!
//! ```text
//!   input a ─┐               ┌─> output x        lineage_inputs  (event, a), (event, b)
//!   input b ─┴──> event ─────┼─> output y        lineage_outputs (event, x), (event, y), (event, z)
//!                            └─> output z        edges when read: a→x a→y a→z b→x b→y b→z
//! ```
//!
//! Both the write and the answer are bounded: [`MAX_EVENT_INPUTS`] and [`MAX_EVENT_OUTPUTS`] per
//! event, [`MAX_LINEAGE_NODES`] and [`MAX_LINEAGE_EDGES`] per lineage answer (then `truncated`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use super::passports::{decode_cursor, passport_cursor};
use super::{
    IN_LIST_CHUNK, Page, Store, StoreError, audit, from_millis, now_millis, placeholders, to_millis,
};

/// Most distinct inputs (transformation inputs, aggregation children) one event may name.
pub const MAX_EVENT_INPUTS: usize = 1_000;

/// Most distinct outputs (transformation outputs, an aggregation's parent) one event may name.
pub const MAX_EVENT_OUTPUTS: usize = 1_000;

/// Most ids one lineage answer lists in `nodes` (over both directions).
pub const MAX_LINEAGE_NODES: usize = 10_000;

/// Most edges one lineage answer lists. An event's edges are the product of its inputs and outputs,
/// so a walk over a few wide events could otherwise list millions.
pub const MAX_LINEAGE_EDGES: usize = 10_000;

/// Most `(event, item)` rows one multi-row `INSERT` writes (two parameters each).
const INSERT_CHUNK: usize = 250;

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
    /// Ids that went into the event: a transformation's inputs, an aggregation's children.
    /// Repeats count once; at most [`MAX_EVENT_INPUTS`] distinct ones.
    pub inputs: Vec<String>,
    /// Ids that came out of it: a transformation's outputs, an aggregation's parent. Every input
    /// went into every output. Repeats count once; at most [`MAX_EVENT_OUTPUTS`] distinct ones.
    /// An event with no inputs or no outputs adds nothing to the lineage graph.
    pub outputs: Vec<String>,
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
    /// Every edge walked, including ones leading back to an already reached id; by step, then
    /// input, output and event id.
    pub edges: Vec<LineageEdge>,
    /// The walk stopped at [`MAX_LINEAGE_NODES`] or [`MAX_LINEAGE_EDGES`]: `nodes` and `edges`
    /// are then the first ones in the order above, something reachable is missing, and an edge
    /// may name an id that `nodes` left out. Ask again with a smaller depth or one direction.
    pub truncated: bool,
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

/// One input → output edge and the event that recorded it (a pair of the event's input and output
/// sets; not stored as such).
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
    /// Stores an event with its predecessor links and its input and output sets (m + n rows) in
    /// one transaction. [`StoreError::Duplicate`] if the event id or hash is stored already;
    /// [`StoreError::UnknownPredecessor`] if a previous hash is not; [`StoreError::InvalidInput`]
    /// if it names more than [`MAX_EVENT_INPUTS`] inputs or [`MAX_EVENT_OUTPUTS`] outputs. On
    /// any error nothing is stored.
    pub async fn insert_trace_event(&self, e: &NewTraceEvent) -> Result<(), StoreError> {
        let inputs: BTreeSet<&str> = e.inputs.iter().map(String::as_str).collect();
        let outputs: BTreeSet<&str> = e.outputs.iter().map(String::as_str).collect();
        // Checked before the write lock is taken: an oversized event costs no lock time.
        for (side, count, max) in [
            ("inputs", inputs.len(), MAX_EVENT_INPUTS),
            ("outputs", outputs.len(), MAX_EVENT_OUTPUTS),
        ] {
            if count > max {
                return Err(StoreError::InvalidInput(format!(
                    "trace event {} names {count} distinct {side}, more than the {max} allowed",
                    e.event_id
                )));
            }
        }
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

        // Only pairs make edges: a one-sided event adds nothing to the graph, so nothing is kept.
        if !inputs.is_empty() && !outputs.is_empty() {
            for (table, items) in [("lineage_inputs", &inputs), ("lineage_outputs", &outputs)] {
                let items: Vec<&str> = items.iter().copied().collect();
                for chunk in items.chunks(INSERT_CHUNK) {
                    let rows = (0..chunk.len())
                        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                        .collect::<Vec<_>>()
                        .join(", ");
                    // `table` is one of two constants; every value is a bound parameter.
                    let sql = format!("INSERT INTO {table} (event_id, item_id) VALUES {rows}");
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for item in chunk {
                        query = query.bind(&e.event_id).bind(*item);
                    }
                    query.execute(&mut *tx).await?;
                }
            }
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

    /// Events in event-id order, `limit` (at most [`super::MAX_PAGE_SIZE`]) per page, each with
    /// its predecessors; `after` is the `next_cursor` of the page before
    /// ([`StoreError::InvalidCursor`] if it is not one). With `item`, only the events whose
    /// material flow names it: as an input or child, or as an output or parent.
    pub async fn list_trace_events(
        &self,
        item: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredTraceEvent>, StoreError> {
        let limit = limit.clamp(1, super::MAX_PAGE_SIZE);
        let after = after.map(decode_cursor).transpose()?.unwrap_or_default();
        let mut conn = self.pool.acquire().await?;
        let columns = "t.event_id, t.hash, t.event_type, t.event_time, t.canonical_json, \
                       t.recorded_at";
        let rows = match item {
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM trace_events t WHERE t.event_id > $1 \
                     ORDER BY t.event_id LIMIT $2"
                )))
                .bind(after)
                .bind(i64::from(limit) + 1)
                .fetch_all(&mut *conn)
                .await?
            }
            Some(item) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM trace_events t WHERE t.event_id > $1 AND (\
                     EXISTS (SELECT 1 FROM lineage_inputs i \
                             WHERE i.event_id = t.event_id AND i.item_id = $2) \
                     OR EXISTS (SELECT 1 FROM lineage_outputs o \
                             WHERE o.event_id = t.event_id AND o.item_id = $2)) \
                     ORDER BY t.event_id LIMIT $3"
                )))
                .bind(after)
                .bind(item)
                .bind(i64::from(limit) + 1)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        // One row more than a page says whether another page follows.
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        // Every page's predecessor links in one query per IN_LIST_CHUNK events, not one per event.
        let ids: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("event_id"))
            .collect::<Result<_, _>>()?;
        let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT event_id, previous_hash FROM trace_event_links WHERE event_id IN ({}) \
                 ORDER BY event_id, position",
                placeholders(1, chunk.len())
            )));
            for id in chunk {
                query = query.bind(id);
            }
            for link in query.fetch_all(&mut *conn).await? {
                links
                    .entry(link.try_get("event_id")?)
                    .or_default()
                    .push(link.try_get("previous_hash")?);
            }
        }
        let mut items = Vec::with_capacity(rows.len());
        for (row, event_id) in rows.iter().zip(ids) {
            items.push(StoredTraceEvent {
                previous_hashes: links.remove(&event_id).unwrap_or_default(),
                event_id,
                hash: row.try_get("hash")?,
                event_type: row.try_get("event_type")?,
                event_time: from_millis(row.try_get("event_time")?)?,
                canonical_json: row.try_get("canonical_json")?,
                recorded_at: from_millis(row.try_get("recorded_at")?)?,
            });
        }
        let next_cursor = if more {
            items.last().map(|e| passport_cursor(&e.event_id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
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

    /// Breadth-first walk of the lineage graph from `passport_id`, at most `max_depth` hops each
    /// way: upstream from an id to the events that output it and on to their inputs, downstream
    /// from an id to the events it went into and on to their outputs. Each id is reached once per
    /// direction (at its smallest depth), so cycles end the walk. The answer holds at most
    /// [`MAX_LINEAGE_NODES`] nodes and [`MAX_LINEAGE_EDGES`] edges; past either the walk stops and
    /// says `truncated`.
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
        let mut answer = LineageBuilder::default();
        'directions: for &direction in directions {
            let mut reached = HashSet::from([passport_id.to_owned()]);
            let mut frontier = vec![passport_id.to_owned()];
            for depth in 1..=max_depth {
                if frontier.is_empty() {
                    break;
                }
                let step = Step::read(&mut conn, direction, &frontier).await?;
                let next: Vec<String> = step
                    .neighbours()
                    .into_iter()
                    .filter(|id| !reached.contains(*id))
                    .map(str::to_owned)
                    .collect();
                let next = answer.add_nodes(next, depth, direction);
                reached.extend(next.iter().cloned());
                answer.add_edges(&step, direction);
                if answer.truncated {
                    break 'directions;
                }
                frontier = next;
            }
        }
        Ok(Lineage {
            root: passport_id.to_owned(),
            nodes: answer.nodes,
            edges: answer.edges,
            truncated: answer.truncated,
        })
    }
}

/// The lineage answer as it grows, within its node and edge budgets.
#[derive(Default)]
struct LineageBuilder {
    nodes: Vec<LineageNode>,
    edges: Vec<LineageEdge>,
    edges_seen: HashSet<LineageEdge>,
    truncated: bool,
}

impl LineageBuilder {
    /// Adds the newly reached ids (sorted) of one step, as many as the node budget leaves room
    /// for; returns those added, the next frontier.
    fn add_nodes(
        &mut self,
        mut ids: Vec<String>,
        depth: u32,
        direction: LineageDirection,
    ) -> Vec<String> {
        let room = MAX_LINEAGE_NODES - self.nodes.len();
        if ids.len() > room {
            ids.truncate(room);
            self.truncated = true;
        }
        self.nodes.extend(ids.iter().map(|id| LineageNode {
            id: id.clone(),
            depth,
            direction,
        }));
        ids
    }

    /// Adds the edges one step crossed that no earlier step reported, in (input, output, event)
    /// order, until the edge budget is spent. An event's edges are formed here from its two
    /// sets, one input at a time, so a wide event never has its whole product in memory.
    fn add_edges(&mut self, step: &Step, direction: LineageDirection) {
        // Edges run input → output: downstream the frontier ids are the inputs, upstream the
        // neighbours are.
        let (from_side, to_side) = match direction {
            LineageDirection::Upstream => (&step.far, &step.near),
            _ => (&step.near, &step.far),
        };
        let mut events_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (event, froms) in from_side {
            for from in froms {
                events_of
                    .entry(from.as_str())
                    .or_default()
                    .push(event.as_str());
            }
        }
        for (from, events) in events_of {
            let mut targets: Vec<(&str, &str)> = events
                .iter()
                .flat_map(|event| {
                    to_side
                        .get(*event)
                        .into_iter()
                        .flatten()
                        .map(move |to| (to.as_str(), *event))
                })
                .collect();
            targets.sort_unstable();
            for (to, event) in targets {
                let edge = LineageEdge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    event_id: event.to_owned(),
                };
                if self.edges_seen.contains(&edge) {
                    continue;
                }
                if self.edges.len() == MAX_LINEAGE_EDGES {
                    self.truncated = true;
                    return;
                }
                self.edges_seen.insert(edge.clone());
                self.edges.push(edge);
            }
        }
    }
}

/// What one hop of the walk read: the events that touch the frontier on its side of the hub, and
/// what those events have on the other side.
struct Step {
    /// Event id → the frontier ids it has on the near side (its outputs when walking upstream,
    /// its inputs downstream).
    near: BTreeMap<String, Vec<String>>,
    /// Event id → every id it has on the far side (inputs upstream, outputs downstream).
    far: BTreeMap<String, Vec<String>>,
}

impl Step {
    async fn read(
        conn: &mut AnyConnection,
        direction: LineageDirection,
        frontier: &[String],
    ) -> Result<Step, StoreError> {
        let (near_table, far_table) = match direction {
            LineageDirection::Upstream => ("lineage_outputs", "lineage_inputs"),
            _ => ("lineage_inputs", "lineage_outputs"),
        };
        let near = members(conn, near_table, "item_id", frontier).await?;
        let events: Vec<String> = near.keys().cloned().collect();
        let far = members(conn, far_table, "event_id", &events).await?;
        Ok(Step { near, far })
    }

    /// Every id on the far side, sorted, once.
    fn neighbours(&self) -> BTreeSet<&str> {
        self.far.values().flatten().map(String::as_str).collect()
    }
}

/// Rows of `table` (`lineage_inputs` or `lineage_outputs`) whose `column` is one of `values`, as
/// event id → item ids. Sorted here rather than in SQL so both backends agree (PostgreSQL would
/// sort by collation).
async fn members(
    conn: &mut AnyConnection,
    table: &'static str,
    column: &'static str,
    values: &[String],
) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
    let mut by_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for chunk in values.chunks(IN_LIST_CHUNK) {
        // `table` and `column` are constants of this module; the values are bound.
        let sql = format!(
            "SELECT event_id, item_id FROM {table} WHERE {column} IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk {
            query = query.bind(value);
        }
        for row in query.fetch_all(&mut *conn).await? {
            by_event
                .entry(row.try_get("event_id")?)
                .or_default()
                .push(row.try_get("item_id")?);
        }
    }
    for items in by_event.values_mut() {
        items.sort_unstable();
    }
    Ok(by_event)
}
