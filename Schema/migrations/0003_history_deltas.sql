-- Gatehouse schema 3: a version's document costs the size of its change.
-- Schemas 1 and 2 kept every version's whole document in config_versions.document, so 1,000 versions
-- of a 3 MB config took 3 GB. version_documents holds them now, each either whole (a checkpoint,
-- base NULL) or as the delta from the version before (base = version - 1): byte ranges copied
-- from that version's document and the bytes added (HistoryDelta). The documents are moved here
-- whole; the store's step for this migration (ConfigStore.encodeHistory) then turns them into
-- deltas in the same transaction, checking each against its version's hash.

CREATE TABLE version_documents (
    version     INTEGER PRIMARY KEY REFERENCES config_versions(version) ON DELETE CASCADE,
    base        INTEGER,                      -- NULL: body is the canonical JSON document; else a delta from version base
    body        BLOB    NOT NULL
);
CREATE INDEX version_documents_checkpoints ON version_documents(version) WHERE base IS NULL;

INSERT INTO version_documents (version, base, body) SELECT version, NULL, document FROM config_versions;
ALTER TABLE config_versions DROP COLUMN document;

-- 1: the version's document was dropped by the history retention (--history-keep); its entry stays.
ALTER TABLE config_versions ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
