-- db: file
-- 105_archive_attached: archiving into an ATTACHed database (cold storage) and back (SPEC
-- section 3, README "es_archive, es_restore", "es_tombstone, es_delete"). The database is a
-- temporary file; the archives are files next to it (attached through the path of main, kept
-- in temp.dir), so they survive DETACH and can be attached again.
--
-- "unchanged|1" lines compare a fingerprint of main and cold (stream rows with timestamps,
-- events, snapshots) with the one saved before a failing call: a failed call changes nothing.

CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
CREATE TEMP TABLE saved(id INTEGER PRIMARY KEY, w TEXT);

-- echo: setup: order-1 (3 events, caller ids, metadata, key, snapshot), order-2 (1 event)
SELECT es_append('order-1', 0,
  '[{"type":"Placed","data":{"total":10},"id":"o1-1","metadata":{"by":"ann"}},
    {"type":"Raw","codec":"bin","data":"AAEC","id":"o1-2","schema_version":3}]',
  '{"timestamp":1700000000000001,"idempotency_key":"k-1","metadata":{"trace":"t-1"}}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":5},"id":"o2-1"}',
  '{"timestamp":1700000000000002}');
SELECT es_append('order-1', 2, '{"type":"Shipped","data":"dhl","id":"o1-3"}',
  '{"timestamp":1700000000000003}');
SELECT es_snapshot_save('order-1', 2, '{"total":10}', 4);
CREATE TEMP TABLE orig AS SELECT * FROM es_events WHERE stream_id = 'order-1';
CREATE TEMP TABLE orig_snap AS SELECT * FROM es_snapshots WHERE stream_id = 'order-1';
CREATE TEMP TABLE orig_stream AS SELECT * FROM es_streams WHERE stream_id = 'order-1';
SELECT * FROM orig ORDER BY seq;
SELECT es_head();

-- echo: the archive database starts empty; es_archive creates the eskit tables in it
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
ATTACH (SELECT path FROM temp.dir) || '-y' AS y;
SELECT count(*) FROM cold.sqlite_schema;
SELECT es_archive('order-1', 'cold');
SELECT type, name FROM cold.sqlite_schema ORDER BY type, name;
SELECT key, CASE key WHEN 'store_id' THEN length(value) ELSE value END FROM cold.es_meta ORDER BY key;
CREATE TEMP VIEW world AS SELECT
  (SELECT group_concat(stream_id || ':' || version || ':' || state || ':' ||
          ifnull(archived_to, '-') || ':' || created_at || ':' || updated_at || ':' ||
          ifnull(tombstone_reason, '-'), ',')
   FROM (SELECT * FROM main.es_streams ORDER BY stream_id)) || ' / ' ||
  ifnull((SELECT group_concat(seq || ':' || stream_id || ':' || version || ':' || event_id, ',')
   FROM (SELECT * FROM main.es_events ORDER BY seq)), '-') || ' / ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version, ',')
   FROM (SELECT * FROM main.es_snapshots ORDER BY stream_id)), '-') || ' // ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version || ':' || state || ':' ||
          created_at || ':' || updated_at, ',')
   FROM (SELECT * FROM cold.es_streams ORDER BY stream_id)), '-') || ' / ' ||
  ifnull((SELECT group_concat(seq || ':' || stream_id || ':' || version || ':' || event_id, ',')
   FROM (SELECT * FROM cold.es_events ORDER BY seq)), '-') || ' / ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version, ',')
   FROM (SELECT * FROM cold.es_snapshots ORDER BY stream_id)), '-') AS w;

-- echo: the events moved unchanged: same seq, ids, timestamps, metadata, codec, data
SELECT * FROM cold.es_events ORDER BY seq;
SELECT 'moved_01', count(*) = 0 FROM (SELECT * FROM orig EXCEPT SELECT * FROM cold.es_events);
SELECT 'moved_02', count(*) = 0 FROM (SELECT * FROM cold.es_events EXCEPT SELECT * FROM orig);
SELECT 'moved_03', count(*) = 0
FROM (SELECT * FROM orig_snap EXCEPT SELECT * FROM cold.es_snapshots);
SELECT 'moved_04', count(*) = 1 FROM cold.es_snapshots;
SELECT stream_id, version, schema_version, codec, state FROM cold.es_snapshots;
-- echo: the archive holds a copy of the stream row (state archived, same created_at)
SELECT c.stream_id, c.category, c.version, c.state, c.archived_to, c.created_at = o.created_at,
       c.tombstone_reason, c.tombstoned_at
FROM cold.es_streams c JOIN orig_stream o USING (stream_id);
-- echo: main keeps the stream row, archived with archived_to = 'cold', and no events
SELECT stream_id, version, state, archived_to FROM es_streams ORDER BY stream_id;
SELECT count(*) FROM main.es_events WHERE stream_id = 'order-1';
SELECT count(*) FROM main.es_snapshots WHERE stream_id = 'order-1';
SELECT seq, stream_id FROM es_all();
SELECT es_status('order-1'), es_head();

-- echo: reads of the stream in main fail, naming the archive database
SELECT * FROM es_stream('order-1');
SELECT version FROM es_stream('order-1', 2);
SELECT count(*) FROM es_stream('order-1') WHERE type = 'Placed';
-- echo: appends, snapshots and restore without the schema fail
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('order-1', 3, '{"type":"Returned","data":{}}');
SELECT es_append('order-1', NULL, '[]');
SELECT es_append('order-1', 0, '{"type":"Placed","data":{"total":10},"id":"o1-1"}',
  '{"idempotency_key":"k-1"}');
SELECT es_snapshot_save('order-1', 3, '{}');
SELECT es_restore('order-1');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: archiving again: in place or to the same archive is a no-op, elsewhere is refused
SELECT es_archive('order-1');
SELECT es_archive('order-1', 'cold');
SELECT es_archive('order-1', 'y');
SELECT es_restore('order-1', 'y');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT count(*) FROM y.sqlite_schema;

-- echo: es_restore(s, 'cold') moves the events back with their original seq
SELECT es_restore('order-1', 'cold');
SELECT es_status('order-1');
SELECT 'restored_01', count(*) = 0 FROM (SELECT * FROM orig EXCEPT SELECT * FROM main.es_events);
SELECT 'restored_02', count(*) = 0
FROM (SELECT * FROM main.es_events WHERE stream_id = 'order-1' EXCEPT SELECT * FROM orig);
SELECT 'restored_03', count(*) = 0
FROM (SELECT * FROM orig_snap EXCEPT SELECT * FROM main.es_snapshots);
SELECT seq, stream_id, version, event_id FROM es_all();
SELECT version, type FROM es_stream('order-1');
SELECT stream_id, version, state, archived_to, created_at = 1700000000000001 FROM es_streams
ORDER BY stream_id;
-- echo: nothing of it is left in the archive (its tables stay)
SELECT (SELECT count(*) FROM cold.es_events), (SELECT count(*) FROM cold.es_snapshots),
       (SELECT count(*) FROM cold.es_streams), (SELECT count(*) FROM cold.sqlite_schema) > 0;
-- echo: appends continue after the highest seq ever assigned
SELECT es_head();
SELECT es_append('order-1', 3, '{"type":"Delivered","data":{},"id":"o1-4"}',
  '{"timestamp":1700000000000004}');
SELECT seq, version FROM es_events WHERE stream_id = 'order-1' ORDER BY seq;
-- echo: the idempotency key travelled with the events
SELECT es_append('order-1', 0, '[]', '{"idempotency_key":"k-1"}');

-- echo: a move between databases commits in steps, so it refuses to run in the caller's transaction
BEGIN;
SELECT es_archive('order-2', 'cold');
SELECT es_status('order-2'), (SELECT count(*) FROM cold.es_events);
ROLLBACK;
SELECT es_status('order-2'), (SELECT count(*) FROM cold.es_events),
       (SELECT count(*) FROM main.es_events WHERE stream_id = 'order-2');

-- echo: an archive holding a copy of the stream that main did not record as a leftover of its
-- echo: own (a byte copy of the archive made while the stream was there) is refused: leftovers
-- echo: are recognised by the move recorded in main, never by their content
SELECT es_archive('order-2', 'cold');
VACUUM cold INTO (SELECT path FROM temp.dir) || '-copy';
SELECT es_restore('order-2', 'cold');
ATTACH (SELECT path FROM temp.dir) || '-copy' AS copy;
SELECT stream_id, version, state FROM copy.es_streams;
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('order-2', 'copy');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT count(*) FROM copy.es_events;
-- echo: ... and nothing is restored from there
SELECT es_restore('order-2', 'copy');
SELECT es_status('order-2'), (SELECT count(*) FROM copy.es_events);
DETACH copy;

-- echo: conflict: the archive holds another stream under the same id (its events are not main's)
SELECT es_append('order-9', 0, '{"type":"Placed","data":9,"id":"o9-1"}');
SELECT es_archive('order-9', 'cold');
VACUUM cold INTO (SELECT path FROM temp.dir) || '-other';
SELECT es_restore('order-9', 'cold');
SELECT es_delete('order-9');
SELECT es_append('order-9', 0, '{"type":"Placed","data":99,"id":"o9-new"}');
ATTACH (SELECT path FROM temp.dir) || '-other' AS other;
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('order-9', 'other');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_restore('order-9', 'other');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
DETACH other;

-- echo: an old copy of this store's own stream (a backup of the archive taken while it was
-- echo: there) is not brought back: what was restored or removed since stays so (not_found)
SELECT es_append('order-3', 0,
  '[{"type":"Placed","data":{"total":3},"id":"o3-1"},{"type":"Paid","data":3,"id":"o3-2"}]',
  '{"timestamp":1700000000000005}');
SELECT es_snapshot_save('order-3', 1, '{"total":3}');
SELECT es_archive('order-3', 'cold');
VACUUM cold INTO (SELECT path FROM temp.dir) || '-export';
SELECT es_restore('order-3', 'cold');
SELECT es_delete('order-3');
SELECT es_status('order-3'), es_head();
ATTACH (SELECT path FROM temp.dir) || '-export' AS export;
SELECT seq, stream_id, version, event_id FROM export.es_events ORDER BY seq;
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('order-3', 'export');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('order-3'), (SELECT count(*) FROM export.es_events);
-- echo: not_found: the archive does not hold the stream (or has no eskit tables)
SELECT es_restore('order-404', 'export');
SELECT es_restore('order-404', 'y');
DETACH export;

-- echo: a stream another store archived (origin_store) is adopted as a copy: new positions after
-- echo: the head (a consumer reading es_all from its checkpoint sees it), the archive keeps
-- echo: its copy for its own store (the other store is simulated by writing the archive's
-- echo: tables past its insert triggers)
ATTACH (SELECT path FROM temp.dir) || '-foreign' AS foreign_db;
SELECT es_append('tmp-1', 0, '{"type":"T","data":0}');
SELECT es_archive('tmp-1', 'foreign_db');
SELECT es_delete('tmp-1');
DROP TRIGGER foreign_db.es_events_guard_insert;
DROP TRIGGER foreign_db.es_lifecycle_guard_insert;
INSERT INTO foreign_db.es_events(seq, stream_id, version, type, data, codec,
  schema_version, event_id, created_at)
VALUES (1, 'alien-1', 1, 'Landed', '{}', 'json', 1, 'alien-e1', 1600000000000000);
INSERT INTO foreign_db.es_lifecycle(stream_id, state, version, created_at, updated_at, move_id,
  moved_count, origin_store)
VALUES ('alien-1', 'archived', 1, 1600000000000000, 1600000000000000, 'm-alien', 1,
        'another-store');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('alien-1', 'foreign_db');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('alien-1'), (SELECT count(*) FROM foreign_db.es_events);
SELECT seq > 1, seq = es_head(), event_id FROM es_stream('alien-1');
DETACH foreign_db;

-- echo: an archive shared with another store: seq values or ids it already holds are refused
ATTACH (SELECT path FROM temp.dir) || '-shared' AS shared;
SELECT es_append('mine-1', 0, '{"type":"T","data":1,"id":"mine-e1"}');
SELECT es_append('mine-2', 0, '{"type":"T","data":2,"id":"mine-e2"}');
SELECT es_append('tmp-2', 0, '{"type":"T","data":0}');
SELECT es_archive('tmp-2', 'shared');
SELECT es_delete('tmp-2');
DROP TRIGGER shared.es_events_guard_insert;
DROP TRIGGER shared.es_event_ids_guard_insert;
INSERT INTO shared.es_events(seq, stream_id, version, type, data, codec,
  schema_version, event_id, created_at)
VALUES ((SELECT seq FROM es_stream('mine-1')), 'theirs-1', 1, 'T', '{}', 'json', 1,
        'their-e1', 1600000000000000),
       (999999, 'theirs-2', 1, 'T', '{}', 'json', 1, 'mine-e2', 1600000000000000);
INSERT INTO shared.es_event_ids VALUES ('their-e1', (SELECT seq FROM es_stream('mine-1'))),
                                       ('mine-e2', 999999);
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('mine-1', 'shared');
SELECT es_archive('mine-2', 'shared');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT count(*) FROM shared.es_events WHERE stream_id LIKE 'mine-%';
DETACH shared;

-- echo: es_tombstone of a stream archived in cold erases it there too
SELECT es_append('order-5', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_snapshot_save('order-5', 2, '{}');
SELECT es_archive('order-5', 'cold');
SELECT (SELECT count(*) FROM cold.es_events), (SELECT count(*) FROM cold.es_snapshots),
       (SELECT count(*) FROM cold.es_streams);
SELECT es_tombstone('order-5', 'gdpr');
SELECT es_status('order-5');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams
WHERE stream_id = 'order-5';
SELECT (SELECT count(*) FROM cold.es_events), (SELECT count(*) FROM cold.es_snapshots),
       (SELECT count(*) FROM cold.es_streams);
SELECT * FROM es_stream('order-5');
SELECT es_restore('order-5', 'cold');
-- echo: es_delete of a stream archived in cold purges it there too
SELECT es_append('order-6', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('order-6', 'cold');
SELECT es_delete('order-6');
SELECT es_status('order-6');
SELECT (SELECT count(*) FROM cold.es_events), (SELECT count(*) FROM cold.es_streams),
       (SELECT count(*) FROM main.es_streams WHERE stream_id = 'order-6');

-- echo: the archive detached: reads, appends and restores name it; a tombstone still works in
-- echo: main, and the copy in the archive is recorded for erasure (es_maintain() reports it)
SELECT es_append('order-7', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('order-7', 'cold');
DETACH cold;
DROP VIEW temp.world;
SELECT es_status('order-7');
SELECT es_restore('order-7', 'cold');
SELECT es_restore('order-7');
SELECT * FROM es_stream('order-7');
SELECT es_append('order-7', 2, '{"type":"C","data":3}');
SELECT es_archive('order-7');
SELECT stream_id, version, state, archived_to FROM es_streams WHERE stream_id = 'order-7';
SELECT es_tombstone('order-7', 'gdpr');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams
WHERE stream_id = 'order-7';
SELECT store_id IS NOT NULL, stream_id, alias FROM es_cleanups;
SELECT es_maintain();
-- echo: attached again, under its name: es_maintain() erases the copy there
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
SELECT count(*) FROM cold.es_events WHERE stream_id = 'order-7';
SELECT es_maintain();
SELECT count(*) FROM cold.es_events WHERE stream_id = 'order-7';
SELECT count(*) FROM cold.es_lifecycle WHERE stream_id = 'order-7';
SELECT count(*) FROM es_cleanups;

-- echo: database names are case-insensitive in SQLite: 'COLD' is the database attached as cold,
-- echo: so the stream is archived in X = cold and es_archive/es_restore with 'cold' name X
SELECT es_append('order-8', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('order-8', 'COLD');
SELECT count(*) FROM cold.es_events WHERE stream_id = 'order-8';
SELECT es_archive('order-8', 'cold');
SELECT es_archive('order-8', 'Cold');
SELECT es_restore('order-8', 'cold');
SELECT es_status('order-8'), (SELECT count(*) FROM cold.es_events WHERE stream_id = 'order-8');

-- echo: another file attached under the archive's name is not the archive (its identity
-- echo: differs): restore refuses, the tombstone erases in main only and never writes that file;
-- echo: the real archive's copy goes once it is attached
SELECT es_append('moved-1', 0, '{"type":"A","data":1}');
SELECT es_archive('moved-1', 'cold');
DETACH cold;
ATTACH (SELECT path FROM temp.dir) || '-impostor' AS cold;
CREATE TABLE cold.unrelated(x);
SELECT es_restore('moved-1', 'cold');
SELECT es_tombstone('moved-1', 'gdpr');
SELECT name FROM cold.sqlite_schema ORDER BY name;
SELECT stream_id, state, archived_to FROM es_streams WHERE stream_id = 'moved-1';
DETACH cold;
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
SELECT count(*) FROM cold.es_events WHERE stream_id = 'moved-1';
SELECT es_delete('moved-1');
SELECT count(*) FROM cold.es_events WHERE stream_id = 'moved-1';
SELECT count(*) FROM es_streams WHERE stream_id = 'moved-1';
