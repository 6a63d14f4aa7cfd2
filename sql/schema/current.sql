-- current: the eskit storage model (SPEC section 1), schema version 3. A store without the
-- eskit tables is created from this file; older stores are brought here by the numbered
-- upgrade files (002_..., 003_...). 001_init.sql is the version 1 layout, kept as history and
-- for the upgrade tests.
--
-- Placeholders, replaced by the migration runner (ext/schema.cpp): @schema@ is the quoted name
-- of the target database ("main" or an ATTACHed archive), @store@ the store's identity (a
-- UUID, also kept in es_meta). Statements run in order inside the caller's write transaction.
--
-- WHAT AN APPEND WRITES
-- An append writes its event rows and their (stream_id, version) entries, nothing else: the
-- stream's version is its last event's, es_streams is a view, and the category and type
-- indexes (es_postings) trail the log by at most 256 events, folded in by the append that
-- reaches that bound (see ext/postings.h). Event ids need no per-append index entry: the ids
-- eskit generates carry their event's seq (ext/ids.h), and only ids given by the caller (or
-- whose event changed position) are listed in es_event_ids, by the append that writes them.

CREATE TABLE @schema@.es_meta(
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

-- One row per event. seq is the rowid, assigned by eskit as one past es_head(); any eskit
-- call that deletes events first records the head in es_meta ('seq_floor'), so a seq is never
-- reused even after the newest events are gone.
CREATE TABLE @schema@.es_events(
    seq             INTEGER PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
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
-- Partial: appends without an idempotency key pay nothing for it.
CREATE INDEX @schema@.es_events_idempotency ON es_events(stream_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

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

-- @include v3_objects.sql
