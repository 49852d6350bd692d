-- Lineage as an event hub, SQLite dialect. Keep in step with ../postgres/0006_lineage_hub.sql.
-- A transformation or aggregation event is stored as its set of inputs and its set of outputs:
-- m + n rows for m inputs and n outputs. The old `lineage_edges` table held the cross product
-- (m × n rows: one 1,000 × 1,000 event wrote a million). The edges "input went into output" are
-- now the pairs of one event's input and output, formed when the lineage is read.
CREATE TABLE lineage_inputs (
    event_id TEXT NOT NULL REFERENCES trace_events (event_id),
    item_id  TEXT NOT NULL,
    PRIMARY KEY (event_id, item_id)
);
CREATE INDEX lineage_inputs_item ON lineage_inputs (item_id);

CREATE TABLE lineage_outputs (
    event_id TEXT NOT NULL REFERENCES trace_events (event_id),
    item_id  TEXT NOT NULL,
    PRIMARY KEY (event_id, item_id)
);
CREATE INDEX lineage_outputs_item ON lineage_outputs (item_id);

-- Every event the gateway stored wrote the full product of its inputs and outputs, so the
-- distinct sources and the distinct targets of one event's edges are its inputs and outputs, and
-- their product gives back exactly the old edges.
INSERT INTO lineage_inputs (event_id, item_id)
    SELECT DISTINCT event_id, from_id FROM lineage_edges;
INSERT INTO lineage_outputs (event_id, item_id)
    SELECT DISTINCT event_id, to_id FROM lineage_edges;
DROP TABLE lineage_edges;
