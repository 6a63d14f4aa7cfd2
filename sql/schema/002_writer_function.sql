-- 002_writer_function: version 1 -> 2. Metadata only: no event is copied, so it is instant
-- on a store of any size.
--
-- Version 1 let eskit's writes through the append-only triggers with a token row in es_guard
-- (one more page written per append) and kept the seq high-water mark in sqlite_sequence
-- (AUTOINCREMENT, one more page per append). Version 2 triggers ask a function registered by
-- eskit instead, and the high-water mark lives in es_meta ('seq_floor'), written only when
-- events are deleted.
--
-- The AUTOINCREMENT keyword itself stays on an upgraded es_events: removing it means
-- rebuilding the table. SQLite keeps sqlite_sequence current on such a store, which costs
-- that one page per append and changes nothing else (eskit assigns seq itself).
--
-- IF EXISTS: a store whose user dropped one of the old triggers still upgrades (and gets all
-- six back).

INSERT OR REPLACE INTO @schema@.es_meta(key, value)
SELECT 'seq_floor', seq FROM @schema@.sqlite_sequence WHERE name = 'es_events';

DROP TRIGGER IF EXISTS @schema@.es_events_no_insert;
DROP TRIGGER IF EXISTS @schema@.es_events_no_update;
DROP TRIGGER IF EXISTS @schema@.es_events_no_delete;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_insert;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_update;
DROP TRIGGER IF EXISTS @schema@.es_streams_no_delete;
DROP TABLE IF EXISTS @schema@.es_guard;

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
