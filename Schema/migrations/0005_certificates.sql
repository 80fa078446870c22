-- Gatehouse schema 5: TLS certificates the proxy presents, matched by SNI.
-- The body holds the chain and the private key sealed with GATEHOUSE_SECRET_KEY, never the key in clear.

CREATE TABLE certificates (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
