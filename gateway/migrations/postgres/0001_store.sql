-- Store schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_store.sql:
-- same tables, columns, keys and indexes; only the types and trigger syntax differ.
-- Timestamps are BIGINT unix milliseconds (UTC); calendar dates are TEXT 'YYYY-MM-DD'
-- (COLLATE "C" so range comparisons are byte-wise, as in SQLite); JSON is TEXT (the
-- canonical bytes must come back unchanged, which JSONB would not do). Only
-- BIGINT/DOUBLE PRECISION/TEXT column types: the sqlx Any driver maps nothing richer.

-- One row per passport id; points at the latest version. The only passport table that is
-- ever updated (compare-and-swap on latest_version), so version rows themselves never are.
CREATE TABLE passport_heads (
    id             TEXT   NOT NULL COLLATE "C" PRIMARY KEY,
    latest_version BIGINT NOT NULL CHECK (latest_version >= 1),
    updated_at     BIGINT NOT NULL
);
CREATE INDEX passport_heads_updated_at ON passport_heads (updated_at);

-- Immutable passport versions.
CREATE TABLE passports (
    id             TEXT   NOT NULL COLLATE "C" REFERENCES passport_heads (id),
    version        BIGINT NOT NULL CHECK (version >= 1),
    canonical_json TEXT   NOT NULL,
    jws            TEXT   NOT NULL,
    etag           TEXT   NOT NULL,
    updated_at     BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

-- Identifiers of a version (GTIN, serial, batch, ...), for the product-id filter.
CREATE TABLE passport_product_ids (
    passport_id TEXT   NOT NULL COLLATE "C",
    version     BIGINT NOT NULL,
    scheme      TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    PRIMARY KEY (passport_id, version, scheme, value),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);
CREATE INDEX passport_product_ids_value ON passport_product_ids (value, scheme);

-- Materials of a version, for the polymer / recycled-share filters.
CREATE TABLE passport_materials (
    passport_id    TEXT             NOT NULL COLLATE "C",
    version        BIGINT           NOT NULL,
    position       BIGINT           NOT NULL,
    polymer        TEXT             NOT NULL,
    recycled_share DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (passport_id, version, position),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);
CREATE INDEX passport_materials_polymer ON passport_materials (polymer, recycled_share);
CREATE INDEX passport_materials_share ON passport_materials (recycled_share);

-- Signed renderings of a version per exchange format (filled by the data-space adapters).
CREATE TABLE signed_payloads (
    passport_id TEXT   NOT NULL COLLATE "C",
    version     BIGINT NOT NULL,
    format      TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (passport_id, version, format),
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);

-- Traceability events, hash-linked to their predecessors. Append-only.
CREATE TABLE trace_events (
    event_id       TEXT   NOT NULL PRIMARY KEY,
    hash           TEXT   NOT NULL UNIQUE,
    event_type     TEXT   NOT NULL,
    event_time     BIGINT NOT NULL,
    canonical_json TEXT   NOT NULL,
    recorded_at    BIGINT NOT NULL
);

CREATE TABLE trace_event_links (
    event_id      TEXT   NOT NULL REFERENCES trace_events (event_id),
    previous_hash TEXT   NOT NULL REFERENCES trace_events (hash),
    position      BIGINT NOT NULL,
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
    id             TEXT   NOT NULL PRIMARY KEY,
    collected_on   TEXT   NOT NULL COLLATE "C",
    canonical_json TEXT   NOT NULL,
    recorded_at    BIGINT NOT NULL
);
CREATE INDEX collection_records_collected_on ON collection_records (collected_on);

CREATE TABLE collection_entries (
    record_id             TEXT             NOT NULL REFERENCES collection_records (id),
    position              BIGINT           NOT NULL,
    category              TEXT             NOT NULL,
    collected_kg          DOUBLE PRECISION NOT NULL,
    reused_parts_kg       DOUBLE PRECISION NOT NULL,
    material_recycling_kg DOUBLE PRECISION NOT NULL,
    thermal_recycling_kg  DOUBLE PRECISION NOT NULL,
    disposal_kg           DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (record_id, position)
);

CREATE TABLE audit_log (
    seq     BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    subject TEXT   NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- Stored versions and events are immutable.
CREATE FUNCTION dpp_reject_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER passports_immutable BEFORE UPDATE ON passports
    FOR EACH ROW EXECUTE FUNCTION dpp_reject_update();
CREATE TRIGGER trace_events_immutable BEFORE UPDATE ON trace_events
    FOR EACH ROW EXECUTE FUNCTION dpp_reject_update();
CREATE TRIGGER audit_log_immutable BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION dpp_reject_update();
