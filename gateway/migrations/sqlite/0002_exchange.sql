-- Exchange engine schema, SQLite dialect. Keep in step with ../postgres/0002_exchange.sql:
-- same tables, columns, keys and indexes; only the types differ.
-- Timestamps are INTEGER unix milliseconds (UTC); JSON is TEXT.

-- Partners: one adapter connection each. `settings_json` is the adapter table without `type` and
-- `endpoint`; credentials in it are references ({"env": …} / {"file": …}), never secrets.
-- `revision` grows with every change, so cached connections notice edits from other processes.
CREATE TABLE partners (
    name          TEXT    NOT NULL PRIMARY KEY,
    adapter_type  TEXT    NOT NULL,
    endpoint      TEXT    NOT NULL,
    settings_json TEXT    NOT NULL,
    allowed_hosts TEXT    NOT NULL,
    policy_json   TEXT    NOT NULL,
    state         TEXT    NOT NULL
        CHECK (state IN ('registered', 'verified', 'failed', 'trusted-unchecked')),
    revision      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Every new passport version matching `filter_json` (and the partner's policy) is queued for the
-- partner in the transaction that writes the version.
CREATE TABLE subscriptions (
    id          TEXT    NOT NULL PRIMARY KEY,
    partner     TEXT    NOT NULL REFERENCES partners (name) ON DELETE CASCADE,
    filter_json TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX subscriptions_partner ON subscriptions (partner);

-- The push outbox. queued → in-flight (leased) → delivered | failed (retry at next_attempt_at)
-- → dead. The idempotency key is fixed when the row is queued and sent with every attempt.
-- `redacted_jws` holds the signed form of what the partner's field policy lets through, when
-- that differs from the stored version (signed once, reused by every retry).
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    partner         TEXT    NOT NULL,
    passport_id     TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL
        CHECK (state IN ('queued', 'in-flight', 'delivered', 'failed', 'dead')),
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    remote_id       TEXT,
    redacted_jws    TEXT,
    subscription_id TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    FOREIGN KEY (passport_id, version) REFERENCES passports (id, version)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_lease ON outbox (state, lease_until);
CREATE INDEX outbox_partner ON outbox (partner, id);

-- Inbound idempotency: the first answer to a partner's request with an Idempotency-Key, replayed
-- for repeats (used by the inbound routes of a later issue).
CREATE TABLE inbound_receipts (
    partner         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_sha256  TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    response_body   TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (partner, idempotency_key)
);
CREATE INDEX inbound_receipts_created_at ON inbound_receipts (created_at);
