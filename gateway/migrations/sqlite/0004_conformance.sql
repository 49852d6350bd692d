-- Conformance runs of partners' endpoints (`dpp-gateway partner check`): the latest decides the
-- partner's state (verified when every mandatory case passed, failed otherwise).
CREATE TABLE conformance_runs (
    id                TEXT    NOT NULL PRIMARY KEY,
    partner           TEXT    NOT NULL REFERENCES partners (name) ON DELETE CASCADE,
    run_at            INTEGER  NOT NULL,
    passed            INTEGER  NOT NULL,
    failed            INTEGER  NOT NULL,
    mandatory_failed  INTEGER  NOT NULL,
    report_dir        TEXT,
    report_json       TEXT    NOT NULL
);
CREATE INDEX conformance_runs_partner ON conformance_runs (partner, run_at);
