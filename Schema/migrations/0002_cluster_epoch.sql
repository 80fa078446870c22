-- Gatehouse schema 2: the epoch of the version history, for the cluster protocol.
-- One row, replaced each time a process becomes the database's writer: data planes that see a new
-- epoch take the control plane's current version as it is, even when it is lower than the one
-- they serve (a database restored from a backup goes on from an older version).

CREATE TABLE cluster_epoch (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    epoch       TEXT    NOT NULL,             -- a random UUID, lowercase
    started_at  INTEGER NOT NULL              -- unix seconds
);
