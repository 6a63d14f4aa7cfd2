-- v3_objects: the objects of schema version 3 that a fresh store (current.sql) and an
-- upgraded one (003_schema3.sql) share, spliced into both by tools/embed_sql.py where they say
-- "-- @include v3_objects.sql". Placeholders as in current.sql. The guard triggers of the
-- bookkeeping tables (es_meta, es_lifecycle, es_postings, es_event_ids, es_reserved_ids,
-- es_cleanups) are added by the migration runner (ext/schema.cpp) from one list.

-- Streams that are not simply "active with their events here": archived (in place, or with
-- the events in another store, archive_store), being archived (the intent of a move, recorded
-- before anything is copied, with what leaves: moved_*), or tombstoned. An archive holds one
-- such row per stream it received, naming the store it came from (origin_store) and the move
-- (move_id). prior_state: the state to return to if a move is abandoned.
CREATE TABLE @schema@.es_lifecycle(
    stream_id        TEXT    PRIMARY KEY,
    state            TEXT    NOT NULL CHECK (state IN ('archived', 'archiving', 'tombstoned')),
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    archive_store    TEXT,
    archive_alias    TEXT,
    move_id          TEXT,
    moved_count      INTEGER,
    moved_last_id    TEXT,
    moved_seq_lo     INTEGER,
    moved_seq_hi     INTEGER,
    origin_store     TEXT,
    prior_state      TEXT,
    tombstone_reason TEXT,
    tombstoned_at    INTEGER
) WITHOUT ROWID;

-- Category (kind 1) and type (kind 2) index: for each key, blocks of ascending seq values
-- (varint deltas), keyed by the block's last seq. Covers every event up to es_meta's
-- 'indexed_upto'; reads scan the few newer events (the tail) directly.
CREATE TABLE @schema@.es_postings(
    kind     INTEGER NOT NULL,
    key      TEXT    NOT NULL,
    last_seq INTEGER NOT NULL,
    seqs     BLOB    NOT NULL,
    PRIMARY KEY (kind, key, last_seq)
) WITHOUT ROWID;

-- Event ids that cannot be found from the id itself: given by the caller, or moved to a new
-- seq (a stream adopted from another store's archive).
CREATE TABLE @schema@.es_event_ids(
    event_id TEXT    PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;

-- Ids of events that left main with their stream for an archive: still taken here.
CREATE TABLE @schema@.es_reserved_ids(
    event_id  TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL
) WITHOUT ROWID;

-- Copies of a stream that a move left in another store (identified by store_id) and that
-- must be erased there once that database is attached again. alias: its ATTACH name when the
-- move began, which tells it from a byte copy of it (same identity) attached as well.
CREATE TABLE @schema@.es_cleanups(
    store_id  TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    move_id   TEXT NOT NULL,
    alias     TEXT,
    PRIMARY KEY (store_id, stream_id, move_id)
) WITHOUT ROWID;

-- One row per stream that has events here or a lifecycle row (SPEC section 1): the version of
-- its last event, its state, when it was created (its first event) and last changed. Computed,
-- never written: `WHERE stream_id = ?` is one index seek into es_events and one into
-- es_lifecycle.
CREATE VIEW @schema@.es_streams(stream_id, category, version, state, archived_to, created_at,
                                updated_at, tombstone_reason, tombstoned_at) AS
SELECT e.stream_id,
       CASE WHEN instr(e.stream_id, '-') > 0
            THEN substr(e.stream_id, 1, instr(e.stream_id, '-') - 1) ELSE e.stream_id END,
       e.version,
       CASE WHEN l.state IS NULL THEN 'active'
            WHEN l.state = 'tombstoned' THEN 'tombstoned' ELSE 'archived' END,
       l.archive_alias,
       (SELECT f.created_at FROM es_events AS f WHERE f.stream_id = e.stream_id
        ORDER BY f.version LIMIT 1),
       max(ifnull(l.updated_at, 0),
           (SELECT f.created_at FROM es_events AS f WHERE f.stream_id = e.stream_id
            ORDER BY f.version DESC LIMIT 1)),
       l.tombstone_reason,
       l.tombstoned_at
FROM (SELECT stream_id, max(version) AS version FROM es_events GROUP BY stream_id) AS e
LEFT JOIN es_lifecycle AS l ON l.stream_id = e.stream_id
UNION ALL
SELECT l.stream_id,
       CASE WHEN instr(l.stream_id, '-') > 0
            THEN substr(l.stream_id, 1, instr(l.stream_id, '-') - 1) ELSE l.stream_id END,
       l.version,
       CASE WHEN l.state = 'tombstoned' THEN 'tombstoned' ELSE 'archived' END,
       l.archive_alias,
       l.created_at,
       l.updated_at,
       l.tombstone_reason,
       l.tombstoned_at
FROM es_lifecycle AS l
WHERE NOT EXISTS (SELECT 1 FROM es_events AS f WHERE f.stream_id = l.stream_id);

-- The append-only guard, which also holds for connections that never loaded eskit. Every
-- trigger asks the function named below whether eskit is writing exactly this row of this
-- store right now (ext/guard.h: an append may insert its own seq values, a tombstone may
-- delete its own stream's rows, bookkeeping may touch the bookkeeping tables). Without the
-- extension the function does not exist, so any INSERT, UPDATE or DELETE on these tables fails
-- to prepare with "no such function: es_events and es_streams are written only by eskit: load
-- the eskit extension". Reads, integrity_check and user indexes never call it.

CREATE TRIGGER @schema@.es_events_guard_insert BEFORE INSERT ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@', NEW.seq)
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: add events with es_append()'); END;

CREATE TRIGGER @schema@.es_events_guard_update BEFORE UPDATE ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@', 'update', OLD.stream_id)
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: events cannot be updated'); END;

CREATE TRIGGER @schema@.es_events_guard_delete BEFORE DELETE ON es_events
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@', 'delete', OLD.stream_id)
BEGIN SELECT RAISE(ABORT, 'es_events is append-only: remove streams with es_tombstone() or es_delete()'); END;

-- es_streams is a view; these make writes to it fail like writes to es_events (eskit's
-- message, SQLITE_CONSTRAINT; without the extension: "no such function").
CREATE TRIGGER @schema@.es_streams_guard_insert INSTEAD OF INSERT ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@')
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: streams are created by es_append()'); END;

CREATE TRIGGER @schema@.es_streams_guard_update INSTEAD OF UPDATE ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@')
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: use es_append(), es_archive(), es_restore() or es_tombstone()'); END;

CREATE TRIGGER @schema@.es_streams_guard_delete INSTEAD OF DELETE ON es_streams
WHEN NOT "es_events and es_streams are written only by eskit: load the eskit extension"('@store@')
BEGIN SELECT RAISE(ABORT, 'es_streams is maintained by eskit: remove streams with es_delete()'); END;
