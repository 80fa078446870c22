-- Gatehouse schema 4: admin API tokens, and who made each version.

CREATE TABLE admin_tokens (
    id          TEXT    PRIMARY KEY,          -- the public part of the token (gh_<id>_<secret>)
    name        TEXT    NOT NULL,             -- shown in the audit trail of the versions it makes
    role        TEXT    NOT NULL,             -- viewer, editor or admin
    hash        TEXT    NOT NULL,             -- SHA-256 of the secret part, hex; the secret is never stored
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,             -- the name of the token that created it
    revoked_at  INTEGER                       -- NULL while the token is accepted
);
-- A name names one accepted token; a revoked token's name may be used again.
CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens(name) WHERE revoked_at IS NULL;

-- Who made a version ('' for versions made before this schema), from which address, and through what.
ALTER TABLE config_versions ADD COLUMN author TEXT NOT NULL DEFAULT '';
ALTER TABLE config_versions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE config_versions ADD COLUMN via TEXT NOT NULL DEFAULT '';
