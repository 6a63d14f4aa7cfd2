-- db: file
-- 120_snapshots: es_snapshot_save(stream_id, version, state [, schema_version [, codec]]) and
-- es_snapshot_invalidate(stream_id | NULL) (SPEC section 3, README "es_snapshot_save,
-- es_snapshot_invalidate"): return values, upserts, codecs and state types, version bounds,
-- refusals by stream state, invalidation counts, and snapshots travelling with archive moves,
-- tombstones and deletes. "unchanged|1" compares a fingerprint of the snapshots (and stream
-- rows) with the one saved before a group of failing calls.

-- echo: es_snapshot_invalidate on a store without tables: 0, and it creates nothing
SELECT es_snapshot_invalidate(NULL);
SELECT es_snapshot_invalidate('order-1');
SELECT 'snap_01', count(*) = 0 FROM sqlite_schema;

-- echo: setup: order-1 at version 3, order-2 at version 1
SELECT es_append('order-1', 0,
  '[{"type":"Placed","data":{"total":25.49}},{"type":"Paid","data":{}},{"type":"Shipped","data":{}}]');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":5}}');
CREATE TEMP TABLE saved(id INTEGER PRIMARY KEY, w TEXT);
CREATE TEMP VIEW world AS SELECT
  ifnull((SELECT group_concat(stream_id || ':' || version || ':' || schema_version || ':' ||
          codec || ':' || quote(state) || ':' || created_at, ',')
   FROM (SELECT * FROM main.es_snapshots ORDER BY stream_id)), '-') || ' / ' ||
  (SELECT group_concat(stream_id || ':' || version || ':' || state || ':' || updated_at, ',')
   FROM (SELECT * FROM main.es_streams ORDER BY stream_id)) AS w;

-- echo: save returns the version; schema_version defaults to 1, codec to json; state is TEXT
SELECT es_snapshot_save('order-1', 3, '{"total":25.49,"paid":true}', 2);
SELECT stream_id, version, schema_version, codec, state, typeof(state),
       json_extract(state, '$.total'), created_at > 0
FROM es_snapshots;
SELECT es_snapshot_save('order-2', 1, '{"total":5}');
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots ORDER BY stream_id;
-- echo: one snapshot per stream: saving again replaces it (also at a lower version)
SELECT es_snapshot_save('order-1', 2, '{"total":25.49}');
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots ORDER BY stream_id;
SELECT es_snapshot_save('order-1', 3, '[1,2,3]', 7);
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots ORDER BY stream_id;
SELECT count(*) FROM es_snapshots;
-- echo: NULL schema_version and NULL codec mean the defaults
SELECT es_snapshot_save('order-2', 1, '"s"', NULL, NULL);
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots WHERE stream_id = 'order-2';
SELECT es_snapshot_save('order-2', 1, '{"a":1}', 1, 'json');
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots WHERE stream_id = 'order-2';
-- echo: json state: any JSON value, stored as the text given
SELECT es_snapshot_save('order-2', 1, ' { "a" : [1, 2.5e3, null] } ');
SELECT quote(state), typeof(state) FROM es_snapshots WHERE stream_id = 'order-2';
SELECT es_snapshot_save('order-2', 1, 'null');
SELECT quote(state), typeof(state) FROM es_snapshots WHERE stream_id = 'order-2';
-- echo: other codecs: state is TEXT or BLOB, stored as given and not validated as JSON
SELECT es_snapshot_save('order-2', 1, x'00ff10', 1, 'msgpack');
SELECT codec, quote(state), typeof(state) FROM es_snapshots WHERE stream_id = 'order-2';
SELECT es_snapshot_save('order-2', 1, 'not json at all', 3, 'text');
SELECT schema_version, codec, quote(state), typeof(state) FROM es_snapshots
WHERE stream_id = 'order-2';
SELECT es_snapshot_save('order-2', 1, '', 1, 'text');
SELECT codec, quote(state), typeof(state) FROM es_snapshots WHERE stream_id = 'order-2';

-- echo: codec json: state must be valid JSON text
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('order-1', 3, '{"total":');
SELECT es_snapshot_save('order-1', 3, 'not json');
SELECT es_snapshot_save('order-1', 3, '');
SELECT es_snapshot_save('order-1', 3, '{"a":1} {"b":2}');
SELECT es_snapshot_save('order-1', 3, '{"a":tru}', 1, 'json');
SELECT es_snapshot_save('order-1', 3, x'7b7d', 1, 'json');
SELECT es_snapshot_save('order-1', 3, 42);
SELECT es_snapshot_save('order-1', 3, NULL);
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: other codecs: state must be TEXT or BLOB
SELECT es_snapshot_save('order-1', 3, 42, 1, 'msgpack');
SELECT es_snapshot_save('order-1', 3, 4.2, 1, 'msgpack');
SELECT es_snapshot_save('order-1', 3, NULL, 1, 'msgpack');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;

-- echo: version must be between 1 and the stream's current version
SELECT es_snapshot_save('order-1', 0, '{}');
SELECT es_snapshot_save('order-1', 4, '{}');
SELECT es_snapshot_save('order-1', 9, '{}');
SELECT es_snapshot_save('order-1', -1, '{}');
SELECT es_snapshot_save('order-2', 2, '{}');
SELECT es_snapshot_save('order-1', 1.5, '{}');
SELECT es_snapshot_save('order-1', '3', '{}');
SELECT es_snapshot_save('order-1', NULL, '{}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: version 1 and the current version are both accepted
SELECT es_snapshot_save('order-1', 1, '{}');
SELECT es_snapshot_save('order-1', 3, '{"total":25.49,"paid":true}', 2);
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots ORDER BY stream_id;
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));

-- echo: schema_version: an integer >= 1 (or NULL)
SELECT es_snapshot_save('order-1', 3, '{}', 0);
SELECT es_snapshot_save('order-1', 3, '{}', -1);
SELECT es_snapshot_save('order-1', 3, '{}', 1.5);
SELECT es_snapshot_save('order-1', 3, '{}', '2');
-- echo: codec: TEXT, 1 to 1024 bytes
SELECT es_snapshot_save('order-1', 3, '{}', 1, '');
SELECT es_snapshot_save('order-1', 3, '{}', 1, 5);
SELECT es_snapshot_save('order-1', 3, '{}', 1, printf('%.*c', 1025, 'c'));
-- echo: stream_id: TEXT, 1 to 1024 bytes
SELECT es_snapshot_save(NULL, 1, '{}');
SELECT es_snapshot_save(1, 1, '{}');
SELECT es_snapshot_save('', 1, '{}');
SELECT es_snapshot_save(printf('%.*c', 1025, 'x'), 1, '{}');
SELECT es_snapshot_invalidate(1);
SELECT es_snapshot_invalidate('');
SELECT es_snapshot_invalidate(printf('%.*c', 1025, 'x'));
SELECT es_snapshot_invalidate(x'01');
-- echo: arity errors come from SQLite
SELECT es_snapshot_save('order-1', 3);
SELECT es_snapshot_save('order-1', 3, '{}', 1, 'json', 'x');
SELECT es_snapshot_invalidate();
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;

-- echo: refused on unknown (not_found), tombstoned and moved (archived) streams
SELECT es_snapshot_save('order-404', 1, '{}');
SELECT es_append('user-5', 0, '{"type":"Registered","data":{}}');
SELECT es_tombstone('user-5', 'gdpr');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('user-5', 1, '{}');
CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
SELECT es_append('order-3', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_snapshot_save('order-3', 2, '{"n":2}', 5);
SELECT es_archive('order-3', 'cold');
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_snapshot_save('order-3', 1, '{}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: the snapshot moved with the events, unchanged
SELECT count(*) FROM main.es_snapshots WHERE stream_id = 'order-3';
SELECT stream_id, version, schema_version, codec, state FROM cold.es_snapshots;
SELECT es_snapshot_invalidate('order-3');
SELECT count(*) FROM cold.es_snapshots;
SELECT es_restore('order-3', 'cold');
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots
WHERE stream_id = 'order-3';
SELECT count(*) FROM cold.es_snapshots;
-- echo: archived in place: saving still works
SELECT es_archive('order-2');
SELECT es_snapshot_save('order-2', 1, '{"archived":true}');
SELECT es_restore('order-2');

-- echo: es_snapshot_invalidate(stream_id) removes one: 1, then 0
SELECT stream_id FROM es_snapshots ORDER BY 1;
SELECT es_snapshot_invalidate('order-1');
SELECT es_snapshot_invalidate('order-1');
SELECT es_snapshot_invalidate('order-404');
SELECT es_snapshot_invalidate('user-5');
SELECT stream_id FROM es_snapshots ORDER BY 1;
-- echo: es_snapshot_invalidate(NULL) removes all and returns the count
SELECT es_snapshot_save('order-1', 3, '{}');
SELECT es_snapshot_invalidate(NULL);
SELECT count(*) FROM es_snapshots;
SELECT es_snapshot_invalidate(NULL);
-- echo: invalidating changes no stream
SELECT stream_id, version, state FROM es_streams ORDER BY 1;

-- echo: a save joins the caller's transaction
BEGIN;
SELECT es_snapshot_save('order-1', 2, '{"in":"tx"}');
SELECT count(*) FROM es_snapshots;
ROLLBACK;
SELECT count(*) FROM es_snapshots;

-- echo: es_tombstone and es_delete remove the snapshot
SELECT es_snapshot_save('order-1', 3, '{"t":1}');
SELECT es_snapshot_save('order-2', 1, '{"d":1}');
SELECT es_tombstone('order-1', 'closed');
SELECT stream_id FROM es_snapshots ORDER BY 1;
SELECT es_delete('order-2');
SELECT count(*) FROM es_snapshots;
-- echo: a deleted stream starts again without a snapshot; a tombstoned one accepts none
SELECT es_append('order-2', 0, '{"type":"Placed","data":{}}');
SELECT es_snapshot_save('order-2', 1, '{}');
SELECT es_snapshot_save('order-1', 3, '{}');
SELECT stream_id, version FROM es_snapshots ORDER BY 1;

-- echo: without a codec argument a BLOB state is saved with codec 'binary'
SELECT es_append('snapbin-1', 0, '{"type":"A","data":1}');
SELECT es_snapshot_save('snapbin-1', 1, x'00ff');
SELECT codec, quote(state), typeof(state) FROM es_snapshots WHERE stream_id = 'snapbin-1';
