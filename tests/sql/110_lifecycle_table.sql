-- db: file
-- 110_lifecycle_table: every cell of the README's "Lifecycle transitions" table (5 states x 9
-- calls), in the order of the table: rows none, active, archived (in place), archived in X,
-- tombstoned; columns es_append, es_stream, es_archive(s), es_archive(s, X), es_restore(s),
-- es_restore(s, X), es_tombstone, es_delete, es_snapshot_save. Every cell uses a stream of its
-- own, set up in the row's state (two events, versions 1-2), then makes the call and shows the
-- return value or the exact error, es_status() afterwards, and where it matters the rows.
-- X is the attached archive 'cold' (a file next to the temporary database), Y another attached
-- database. "unchanged|1" compares a fingerprint of main and cold (stream rows with their
-- timestamps, events, snapshots) with the one saved just before the call: errors and no-ops
-- change nothing.

CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
CREATE TEMP TABLE saved(id INTEGER PRIMARY KEY, w TEXT);
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
ATTACH (SELECT path FROM temp.dir) || '-y' AS y;

-- echo: setup for none x es_restore(s, X): an archive 'export' that holds stream n-restx,
-- echo: which main does not know (exported from cold, then restored and deleted here)
SELECT es_append('n-restx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('n-restx', 'cold');
VACUUM cold INTO (SELECT path FROM temp.dir) || '-export';
SELECT es_restore('n-restx', 'cold');
SELECT es_delete('n-restx');
ATTACH (SELECT path FROM temp.dir) || '-export' AS export;
SELECT es_status('n-restx'), (SELECT count(*) FROM export.es_events WHERE stream_id = 'n-restx');

CREATE TEMP VIEW world AS SELECT
  ifnull((SELECT group_concat(stream_id || ':' || version || ':' || state || ':' ||
          ifnull(archived_to, '-') || ':' || created_at || ':' || updated_at || ':' ||
          ifnull(tombstone_reason, '-'), ',')
   FROM (SELECT * FROM main.es_streams ORDER BY stream_id)), '-') || ' / ' ||
  ifnull((SELECT group_concat(seq || ':' || stream_id || ':' || version, ',')
   FROM (SELECT * FROM main.es_events ORDER BY seq)), '-') || ' / ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version, ',')
   FROM (SELECT * FROM main.es_snapshots ORDER BY stream_id)), '-') || ' // ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version || ':' || state || ':' ||
          created_at || ':' || updated_at, ',')
   FROM (SELECT * FROM cold.es_streams ORDER BY stream_id)), '-') || ' / ' ||
  ifnull((SELECT group_concat(seq || ':' || stream_id || ':' || version, ',')
   FROM (SELECT * FROM cold.es_events ORDER BY seq)), '-') || ' / ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version, ',')
   FROM (SELECT * FROM cold.es_snapshots ORDER BY stream_id)), '-') AS w;


-- ---------------------------------------------------------------- row: none

-- echo: none x es_append
-- echo:   empty batch: no-op, returns 0
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('n-append', 0, '[]');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-append');
-- echo:   events: the stream becomes active
SELECT es_append('n-append', 0, '{"type":"A","data":1}');
SELECT es_status('n-append');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'n-append';

-- echo: none x es_stream
SELECT 'rows', count(*) FROM es_stream('n-stream');
SELECT es_status('n-stream');

-- echo: none x es_archive(s)
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('n-arch');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-arch');

-- echo: none x es_archive(s, X)
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('n-archx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-archx');

-- echo: none x es_restore(s)
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('n-rest');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-rest');

-- echo: none x es_restore(s, X)
-- echo:   X = export holds an old copy of this store's own stream: not_found (only another
-- echo:   store's archive copy is adopted: 105_archive_attached.sql)
SELECT es_restore('n-restx', 'export');
SELECT es_status('n-restx');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'n-restx';
SELECT version, type FROM es_stream('n-restx');
SELECT count(*) FROM export.es_events WHERE stream_id = 'n-restx';
-- echo:   X = cold does not hold the stream: not_found
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('n-restx2', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-restx2');

-- echo: none x es_tombstone
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_tombstone('n-tomb', 'closed');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-tomb');

-- echo: none x es_delete
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_delete('n-del');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-del');

-- echo: none x es_snapshot_save
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('n-snap', 2, '{"n":2}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('n-snap');

-- ---------------------------------------------------------------- row: active

-- echo: active x es_append
SELECT es_append('a-append', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_append('a-append', 2, '{"type":"C","data":3}');
SELECT es_status('a-append');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'a-append';

-- echo: active x es_stream
SELECT es_append('a-stream', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT version, type FROM es_stream('a-stream');
SELECT es_status('a-stream');

-- echo: active x es_archive(s)
SELECT es_append('a-arch', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('a-arch');
SELECT es_status('a-arch');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'a-arch';
SELECT version FROM es_stream('a-arch');

-- echo: active x es_archive(s, X)
SELECT es_append('a-archx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('a-archx', 'cold');
SELECT es_status('a-archx');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'a-archx';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'a-archx'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'a-archx');

-- echo: active x es_restore(s)
SELECT es_append('a-rest', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('a-rest');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('a-rest');

-- echo: active x es_restore(s, X)
SELECT es_append('a-restx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('a-restx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('a-restx');

-- echo: active x es_tombstone
SELECT es_append('a-tomb', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('a-tomb', 'closed');
SELECT es_status('a-tomb');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'a-tomb';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'a-tomb'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'a-tomb');

-- echo: active x es_delete
SELECT es_append('a-del', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_delete('a-del');
SELECT es_status('a-del');
SELECT count(*) FROM es_streams WHERE stream_id = 'a-del';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'a-del'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'a-del');

-- echo: active x es_snapshot_save
SELECT es_append('a-snap', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_snapshot_save('a-snap', 2, '{"n":2}');
SELECT es_status('a-snap');
SELECT stream_id, version, state FROM es_snapshots WHERE stream_id = 'a-snap';

-- ---------------------------------------------------------------- row: archived (in place)

-- echo: archived (in place) x es_append
SELECT es_append('p-append', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-append');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('p-append', 2, '{"type":"C","data":3}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('p-append');

-- echo: archived (in place) x es_stream
SELECT es_append('p-stream', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-stream');
SELECT version, type FROM es_stream('p-stream');
SELECT es_status('p-stream');

-- echo: archived (in place) x es_archive(s)
SELECT es_append('p-arch', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-arch');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('p-arch');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('p-arch');

-- echo: archived (in place) x es_archive(s, X)
SELECT es_append('p-archx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-archx');
SELECT es_archive('p-archx', 'cold');
SELECT es_status('p-archx');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'p-archx';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'p-archx'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'p-archx');

-- echo: archived (in place) x es_restore(s)
SELECT es_append('p-rest', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-rest');
SELECT es_restore('p-rest');
SELECT es_status('p-rest');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'p-rest';
SELECT es_append('p-rest', 2, '{"type":"C","data":3}');

-- echo: archived (in place) x es_restore(s, X)
SELECT es_append('p-restx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-restx');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('p-restx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('p-restx');

-- echo: archived (in place) x es_tombstone
SELECT es_append('p-tomb', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-tomb');
SELECT es_tombstone('p-tomb', 'closed');
SELECT es_status('p-tomb');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'p-tomb';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'p-tomb'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'p-tomb');

-- echo: archived (in place) x es_delete
SELECT es_append('p-del', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-del');
SELECT es_delete('p-del');
SELECT es_status('p-del');
SELECT count(*) FROM es_streams WHERE stream_id = 'p-del';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'p-del'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'p-del');

-- echo: archived (in place) x es_snapshot_save
SELECT es_append('p-snap', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('p-snap');
SELECT es_snapshot_save('p-snap', 2, '{"n":2}');
SELECT es_status('p-snap');
SELECT stream_id, version, state FROM es_snapshots WHERE stream_id = 'p-snap';

-- ---------------------------------------------------------------- row: archived in X

-- echo: archived in X x es_append
SELECT es_append('x-append', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-append', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('x-append', 2, '{"type":"C","data":3}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-append');

-- echo: archived in X x es_stream
SELECT es_append('x-stream', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-stream', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT version, type FROM es_stream('x-stream');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-stream');

-- echo: archived in X x es_archive(s)
SELECT es_append('x-arch', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-arch', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('x-arch');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-arch');

-- echo: archived in X x es_archive(s, X)
SELECT es_append('x-archx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-archx', 'cold');
-- echo:   X: no-op
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('x-archx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-archx');
-- echo:   Y: invalid_argument
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('x-archx', 'y');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-archx');
SELECT count(*) FROM y.sqlite_schema;

-- echo: archived in X x es_restore(s)
SELECT es_append('x-rest', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-rest', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('x-rest');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-rest');

-- echo: archived in X x es_restore(s, X)
SELECT es_append('x-restx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-restx', 'cold');
SELECT es_restore('x-restx', 'cold');
SELECT es_status('x-restx');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'x-restx';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'x-restx'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'x-restx');
SELECT version, type FROM es_stream('x-restx');

-- echo: archived in X x es_tombstone
SELECT es_append('x-tomb', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-tomb', 'cold');
SELECT es_tombstone('x-tomb', 'closed');
SELECT es_status('x-tomb');
SELECT stream_id, version, state, archived_to, tombstone_reason FROM es_streams WHERE stream_id = 'x-tomb';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'x-tomb'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'x-tomb');

-- echo: archived in X x es_delete
SELECT es_append('x-del', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-del', 'cold');
SELECT es_delete('x-del');
SELECT es_status('x-del');
SELECT count(*) FROM es_streams WHERE stream_id = 'x-del';
SELECT 'main', (SELECT count(*) FROM main.es_events WHERE stream_id = 'x-del'), 'cold', (SELECT count(*) FROM cold.es_events WHERE stream_id = 'x-del');
SELECT count(*) FROM cold.es_streams WHERE stream_id = 'x-del';

-- echo: archived in X x es_snapshot_save
SELECT es_append('x-snap', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('x-snap', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('x-snap', 2, '{"n":2}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('x-snap');

-- ---------------------------------------------------------------- row: tombstoned

-- echo: tombstoned x es_append
SELECT es_append('t-append', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-append', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('t-append', 2, '{"type":"C","data":3}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-append');

-- echo: tombstoned x es_stream
SELECT es_append('t-stream', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-stream', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT version, type FROM es_stream('t-stream');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-stream');

-- echo: tombstoned x es_archive(s)
SELECT es_append('t-arch', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-arch', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('t-arch');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-arch');

-- echo: tombstoned x es_archive(s, X)
SELECT es_append('t-archx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-archx', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('t-archx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-archx');

-- echo: tombstoned x es_restore(s)
SELECT es_append('t-rest', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-rest', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('t-rest');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-rest');

-- echo: tombstoned x es_restore(s, X)
SELECT es_append('t-restx', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-restx', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('t-restx', 'cold');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-restx');

-- echo: tombstoned x es_tombstone
SELECT es_append('t-tomb', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-tomb', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_tombstone('t-tomb', 'closed');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-tomb');

-- echo: tombstoned x es_delete
SELECT es_append('t-del', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-del', 'gdpr');
SELECT es_delete('t-del');
SELECT es_status('t-del');
SELECT count(*) FROM es_streams WHERE stream_id = 't-del';

-- echo: tombstoned x es_snapshot_save
SELECT es_append('t-snap', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_tombstone('t-snap', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('t-snap', 2, '{"n":2}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('t-snap');
