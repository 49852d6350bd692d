-- Conformance runs of partners' endpoints (`dpp-gateway partner check`): the latest decides the
-- partner's state (verified when every mandatory case passed, failed otherwise).
CREATE TABLE conformance_runs (
    id                TEXT    NOT NULL PRIMARY KEY,
    partner           TEXT    NOT NULL REFERENCES partners (name) ON DELETE CASCADE,
    run_at            BIGINT  NOT NULL,
    passed            BIGINT  NOT NULL,
    failed            BIGINT  NOT NULL,
    mandatory_failed  BIGINT  NOT NULL,
    report_dir        TEXT,
    report_json       TEXT    NOT NULL
);
CREATE INDEX conformance_runs_partner ON conformance_runs (partner, run_at);
