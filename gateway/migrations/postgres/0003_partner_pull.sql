-- Per-partner pull policy, PostgreSQL dialect. Keep in step with ../sqlite/0003_partner_pull.sql.
-- `pull_json` holds the members of the registration's `pull` object that were given
-- (`ttlSeconds`, `negativeTtlSeconds`, `staleIfErrorSeconds`, `timeoutSeconds`); the gateway's
-- defaults fill the rest, so partners registered before this migration get `{}`: all defaults.
ALTER TABLE partners ADD COLUMN pull_json TEXT NOT NULL DEFAULT '{}';
