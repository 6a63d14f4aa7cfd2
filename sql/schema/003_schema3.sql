-- 003_schema3: version 2 -> 3, in the caller's transaction (crash-safe: all or nothing).
--
-- Version 2 wrote the es_streams row and four index entries (stream/version, event id,
-- category, type) with every append, and ran a per-row insert trigger. A version 3 append
-- writes its rows and their (stream_id, version) entries only (see current.sql):
--   * es_streams becomes a view over the events and es_lifecycle, which keeps the streams
--     that are archived or tombstoned (their version, reason and times carried over);
--   * the category column leaves es_events (the category is the stream id's prefix) and the
--     event-id, category and type indexes are dropped: es_event_ids lists every existing id
--     (none of them carries its seq), and the runner then folds every event into es_postings;
--   * the guard triggers name this store's identity (@store@, kept in es_meta as 'store_id').
-- Streams a version 2 store moved into an attached archive were recorded by the archive's
-- ATTACH name only; they keep it (archive_alias, with archive_store NULL) and es_restore
-- accepts the archive attached under that name (README: "Upgrading").
--
-- The runner (ext/schema.cpp) afterwards removes a leftover AUTOINCREMENT keyword of a
-- version 1 store (no change to the file format), folds the events into es_postings and
-- records the version. User indexes, triggers and views on es_events stay; one that uses the
-- category column stops the upgrade with SQLite's message, and nothing changes.

DROP TRIGGER IF EXISTS @schema@.es_events_no_insert;
DROP TRIGGER IF EXISTS @schema@.es_events_no_update;
DROP TRIGGER IF EXISTS @schema@.es_events_no_delete;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_insert;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_update;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_delete;

INSERT OR REPLACE INTO @schema@.es_meta(key, value)
SELECT 'seq_floor', max(ifnull((SELECT max(seq) FROM @schema@.es_events), 0),
                        ifnull((SELECT value FROM @schema@.es_meta WHERE key = 'seq_floor'), 0));

-- DROP COLUMN re-checks every view and trigger of the schema, so it runs while es_streams is
-- still a table: a user view over es_streams stays valid throughout (and reads the view after).
DROP INDEX IF EXISTS @schema@.es_events_event_id;
DROP INDEX IF EXISTS @schema@.es_events_category;
DROP INDEX IF EXISTS @schema@.es_events_type;
ALTER TABLE @schema@.es_events DROP COLUMN category;

CREATE TEMP TABLE es_upgrade_streams AS
SELECT stream_id, state, version, created_at, updated_at, archived_to, tombstone_reason,
       tombstoned_at
FROM @schema@.es_streams WHERE state <> 'active';
DROP TABLE @schema@.es_streams;

-- @include v3_objects.sql

INSERT INTO @schema@.es_lifecycle(stream_id, state, version, created_at, updated_at,
                                  archive_alias, tombstone_reason, tombstoned_at)
SELECT stream_id, state, version, created_at, updated_at, archived_to, tombstone_reason,
       tombstoned_at
FROM temp.es_upgrade_streams;
DROP TABLE temp.es_upgrade_streams;

INSERT INTO @schema@.es_event_ids(event_id, seq)
SELECT event_id, seq FROM @schema@.es_events ORDER BY event_id;
