-- Store schema, SQLite dialect. Keep in step with ../postgres/0001_store.sql:
-- same tables, columns, keys and indexes; only the types and trigger syntax differ.
-- Timestamps are INTEGER unix milliseconds (UTC); calendar dates are TEXT 'YYYY-MM-DD';
-- JSON is TEXT. Only INTEGER/REAL/TEXT column types: the sqlx Any driver maps nothing else.

-- One row per passport id; points at the latest version. The only passport table that is
-- ever updated (compare-and-swap on latest_version), so version rows themselves never are.
CREATE TABLE passport_heads (
    id             TEXT    NOT NULL PRIMARY KEY,
    latest_version INTEGER NOT NULL CHECK (latest_version >= 1),
    updated_at     INTEGER NOT NULL
);
CREATE INDEX passport_heads_updated_at ON passport_heads (updated_at);

-- Immutable passport versions.
CREATE TABLE passports (
    id             TEXT    NOT NULL REFERENCES passport_heads (id),
    version        INTEGER NOT NULL CHECK (version >= 1),
    canonical_json TEXT    NOT NULL,
    jws            TEXT    NOT NULL,
    etag           TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);

-- Identifiers of a version (GTIN, serial, batch, ...), for the product-id filter.
CREATE TABLE passport_product_ids (
    passport_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    scheme      TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    PRIMARY KEY (passport_id, version, scheme, value),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);
CREATE INDEX passport_product_ids_value ON passport_product_ids (value, scheme);

-- Materials of a version, for the polymer / recycled-share filters.
CREATE TABLE passport_materials (
    passport_id    TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    polymer        TEXT    NOT NULL,
    recycled_share REAL    NOT NULL,
    PRIMARY KEY (passport_id, version, position),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);
CREATE INDEX passport_materials_polymer ON passport_materials (polymer, recycled_share);
CREATE INDEX passport_materials_share ON passport_materials (recycled_share);

-- Signed renderings of a version per exchange format (filled by the data-space adapters).
CREATE TABLE signed_payloads (
    passport_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    format      TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (passport_id, version, format),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);

-- Traceability events, hash-linked to their predecessors. Append-only.
CREATE TABLE trace_events (
    event_id       TEXT    NOT NULL PRIMARY KEY,
    hash           TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    event_time     INTEGER NOT NULL,
    canonical_json TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL
);

CREATE TABLE trace_event_links (
    event_id      TEXT    NOT NULL REFERENCES trace_events (event_id),
    previous_hash TEXT    NOT NULL REFERENCES trace_events (hash),
    position      INTEGER NOT NULL,
    PRIMARY KEY (event_id, previous_hash)
);
CREATE INDEX trace_event_links_previous ON trace_event_links (previous_hash);

-- Material flow recorded by trace events: from_id went into to_id.
CREATE TABLE lineage_edges (
    from_id  TEXT NOT NULL,
    to_id    TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES trace_events (event_id),
    PRIMARY KEY (from_id, to_id, event_id)
);
CREATE INDEX lineage_edges_to ON lineage_edges (to_id, from_id);

-- Collection / end-of-life records and their per-category quantities.
CREATE TABLE collection_records (
    id             TEXT    NOT NULL PRIMARY KEY,
    collected_on   TEXT    NOT NULL,
    canonical_json TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL
);
CREATE INDEX collection_records_collected_on ON collection_records (collected_on);

CREATE TABLE collection_entries (
    record_id             TEXT    NOT NULL REFERENCES collection_records (id),
    position              INTEGER NOT NULL,
    category              TEXT    NOT NULL,
    collected_kg          REAL    NOT NULL,
    reused_parts_kg       REAL    NOT NULL,
    material_recycling_kg REAL    NOT NULL,
    thermal_recycling_kg  REAL    NOT NULL,
    disposal_kg           REAL    NOT NULL,
    PRIMARY KEY (record_id, position)
);

CREATE TABLE audit_log (
    seq     INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- Stored versions and events are immutable.
CREATE TRIGGER passports_immutable BEFORE UPDATE ON passports
BEGIN
    SELECT RAISE(ABORT, 'passport versions are immutable');
END;
CREATE TRIGGER trace_events_immutable BEFORE UPDATE ON trace_events
BEGIN
    SELECT RAISE(ABORT, 'trace events are immutable');
END;
CREATE TRIGGER audit_log_immutable BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log entries are immutable');
END;
