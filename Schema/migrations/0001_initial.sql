-- Gatehouse schema 1: config entities and the version history.
-- Every committed change writes the entity rows and one config_versions row in one transaction.

CREATE TABLE config_versions (
    version     INTEGER PRIMARY KEY,          -- 1, 2, 3, ... never reused
    hash        TEXT    NOT NULL,             -- SHA-256 of the canonical JSON document, hex
    summary     TEXT    NOT NULL,             -- "create route recipes", "rollback to version 3"
    changes     TEXT    NOT NULL,             -- JSON list of {kind, name, action, fields}
    created_at  INTEGER NOT NULL,             -- unix seconds
    document    BLOB    NOT NULL              -- canonical JSON document of the whole config
);

CREATE TABLE upstreams (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    body        TEXT    NOT NULL,             -- the entity's JSON document form
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE routes (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    upstream_id TEXT    NOT NULL REFERENCES upstreams(id) ON DELETE RESTRICT,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX routes_upstream ON routes(upstream_id);

CREATE TABLE consumers (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    custom_id   TEXT    UNIQUE,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE credentials (
    id          TEXT    PRIMARY KEY,
    consumer_id TEXT    NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    lookup      TEXT    NOT NULL UNIQUE,      -- "key-auth:<sha256>" or "basic-auth:<username>"
    body        TEXT    NOT NULL,             -- hashed secret only, never the clear one
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX credentials_consumer ON credentials(consumer_id);

CREATE TABLE policies (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    route_id    TEXT    REFERENCES routes(id) ON DELETE RESTRICT,
    consumer_id TEXT    REFERENCES consumers(id) ON DELETE RESTRICT,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX policies_route ON policies(route_id);
CREATE INDEX policies_consumer ON policies(consumer_id);
