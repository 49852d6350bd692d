-- Partner-facing API, PostgreSQL dialect. Keep in step with ../sqlite/0005_partner_inbound.sql.
-- A partner calls /partner/v1 with a token the gateway issued it; only the SHA-256 of the token
-- is kept (hex). `limits_json` holds the members of the registration's `limits` object that were
-- given (`requestsPerSecond`, `burst`, `maxConcurrent`); the gateway's `[inbound]` defaults fill
-- the rest, so partners registered before this migration get `{}`: all defaults.
CREATE TABLE partner_tokens (
    id           TEXT   NOT NULL COLLATE "C" PRIMARY KEY,
    partner      TEXT   NOT NULL COLLATE "C" REFERENCES partners (name) ON DELETE CASCADE,
    token_sha256 TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX partner_tokens_partner ON partner_tokens (partner);
ALTER TABLE partners ADD COLUMN limits_json TEXT NOT NULL DEFAULT '{}';
