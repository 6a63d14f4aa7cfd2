-- current: the eskit storage model (SPEC section 1), schema version 2. A store without the
-- eskit tables is created from this file; older stores are brought here by the numbered
-- upgrade files (002_...). 001_init.sql is the version 1 layout, kept as history and for the
-- upgrade tests.
--
-- @schema@ is replaced with the quoted name of the target database ("main" or an ATTACHed
-- archive), so one text serves both. Statements run in order inside the caller's write
-- transaction; the migration runner records the version in es_meta afterwards.

CREATE TABLE @schema@.es_meta(
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

-- One row per event. seq is the rowid, assigned by eskit as one past es_head(). Not
-- AUTOINCREMENT: sqlite_sequence would be one more page written by every append. Instead, any
-- eskit call that deletes events first records the head in es_meta ('seq_floor'), so a seq is
-- never reused even after the newest events are gone.
-- category is stored (not derived at read time) so category reads are one index range.
CREATE TABLE @schema@.es_events(
    seq             INTEGER PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    data,
    metadata        TEXT,
    codec           TEXT    NOT NULL DEFAULT 'json',
    schema_version  INTEGER NOT NULL DEFAULT 1,
    event_id        TEXT    NOT NULL,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE UNIQUE INDEX @schema@.es_events_event_id ON es_events(event_id);
-- Index entries end with the rowid, so (category) and (type) ranges come out in seq order.
CREATE INDEX @schema@.es_events_category ON es_events(category);
CREATE INDEX @schema@.es_events_type ON es_events(type);
-- Partial: appends without an idempotency key pay nothing for it.
CREATE INDEX @schema@.es_events_idempotency ON es_events(stream_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE @schema@.es_streams(
    stream_id        TEXT    PRIMARY KEY,
    category         TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'active'
                             CHECK (state IN ('active', 'archived', 'tombstoned')),
    archived_to      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    tombstone_reason TEXT,
    tombstoned_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX @schema@.es_streams_category ON es_streams(category);

CREATE TABLE @schema@.es_snapshots(
    stream_id      TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    codec          TEXT    NOT NULL DEFAULT 'json',
    state,
    created_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE @schema@.es_checkpoints(
    consumer   TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Append-only enforcement that also holds for connections that never loaded eskit. Every
-- trigger asks the function named below whether an eskit call is writing on this connection.
-- eskit registers it (a flag read, no page written); without the extension it does not exist,
-- so any INSERT, UPDATE or DELETE on these tables fails to prepare with "no such function:
-- es_events and es_streams are written only by eskit: load the eskit extension". Reads,
-- integrity_check and user indexes never call it.

CREATE TRIGGER @schema@.es_events_no_insert BEFORE INSERT ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: add events with es_append()'); END;

CREATE TRIGGER @schema@.es_events_no_update BEFORE UPDATE ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: events cannot be updated'); END;

CREATE TRIGGER @schema@.es_events_no_delete BEFORE DELETE ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: remove streams with es_tombstone() or es_delete()'); END;

CREATE TRIGGER @schema@.es_streams_no_insert BEFORE INSERT ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: streams are created by es_append()'); END;

CREATE TRIGGER @schema@.es_streams_no_update BEFORE UPDATE ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: use es_append(), es_archive(), es_restore() or es_tombstone()'); END;

CREATE TRIGGER @schema@.es_streams_no_delete BEFORE DELETE ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"()
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: remove streams with es_delete()'); END;
