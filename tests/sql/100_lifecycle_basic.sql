-- db: file
-- 100_lifecycle_basic: the stream lifecycle in one database (SPEC section 3, README "es_archive,
-- es_restore", "es_tombstone, es_delete", "es_status"): es_status for every state, archiving in
-- place and restoring, tombstones, deletes, and every invalid argument of these functions with
-- its exact message and result code. Archives into an attached database are in
-- 105_archive_attached, the cell-by-cell transition table in 110_lifecycle_table.
--
-- "unchanged|1" lines compare a fingerprint of everything in main (stream rows with their
-- timestamps, events, snapshots, the seq high-water mark) with the one saved before a group of
-- failing calls: a failed call changes nothing.

CREATE TEMP TABLE saved(id INTEGER PRIMARY KEY, w TEXT);

-- echo: es_status of an unknown stream on an empty store is none and creates nothing
SELECT es_status('order-1');
SELECT 'status_01', count(*) = 0 FROM sqlite_schema;

-- echo: setup: three events on order-1, a snapshot, one event on order-2
SELECT es_append('order-1', 0,
  '[{"type":"Placed","data":{"total":10},"id":"o1-1"},
    {"type":"Paid","data":10,"id":"o1-2"}]',
  '{"timestamp":1700000000000001,"idempotency_key":"k-1"}');
SELECT es_append('order-1', 2, '{"type":"Shipped","data":"dhl","id":"o1-3"}',
  '{"timestamp":1700000000000002,"idempotency_key":"k-2"}');
SELECT es_snapshot_save('order-1', 2, '{"total":10,"paid":true}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":5},"id":"o2-1"}',
  '{"timestamp":1700000000000003}');
CREATE TEMP VIEW world AS SELECT
  (SELECT group_concat(stream_id || ':' || category || ':' || version || ':' || state || ':' ||
          ifnull(archived_to, '-') || ':' || created_at || ':' || updated_at || ':' ||
          ifnull(tombstone_reason, '-') || ':' || ifnull(tombstoned_at, '-'), ',')
   FROM (SELECT * FROM main.es_streams ORDER BY stream_id)) || ' / ' ||
  (SELECT group_concat(seq || ':' || stream_id || ':' || version || ':' || event_id, ',')
   FROM (SELECT * FROM main.es_events ORDER BY seq)) || ' / ' ||
  ifnull((SELECT group_concat(stream_id || ':' || version || ':' || state, ',')
   FROM (SELECT * FROM main.es_snapshots ORDER BY stream_id)), '-') || ' / ' ||
  es_head() AS w;
SELECT stream_id, category, version, state, archived_to, tombstone_reason, tombstoned_at,
       created_at = updated_at
FROM es_streams ORDER BY stream_id;

-- echo: es_status: active, and none for a stream that was never appended to
SELECT es_status('order-1'), es_status('order-2'), es_status('order-3');

-- echo: es_archive in place returns 0; the stream is archived and stays readable
SELECT es_archive('order-1');
SELECT es_status('order-1'), es_status('order-2');
SELECT stream_id, version, state, archived_to, updated_at > created_at
FROM es_streams WHERE stream_id = 'order-1';
SELECT version, type, data FROM es_stream('order-1');
SELECT seq, stream_id, version FROM es_all() ORDER BY seq;
SELECT stream_id, version, state FROM es_snapshots;
-- echo: archiving an archived stream again is a no-op: 0, nothing changes (not even updated_at)
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('order-1');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;

-- echo: appends to the archived stream are refused, whatever expected_version says
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('order-1', 3, '{"type":"Refunded","data":{}}');
SELECT es_append('order-1', NULL, '{"type":"Refunded","data":{}}');
SELECT es_append('order-1', -2, '{"type":"Refunded","data":{}}');
SELECT es_append('order-1', 0, '{"type":"Refunded","data":{}}');
SELECT es_append('order-1', 3, '[]');
SELECT es_append('order-1', 3, '{"type":"Refunded","data":{}}', '{"idempotency_key":"k-new"}');
SELECT es_append('order-1', 3, '{"type":"Refunded","data":{},"id":"o1-new"}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: replays of appends that already succeeded are still answered while archived
SELECT es_append('order-1', 0, '{"type":"Whatever","data":null}', '{"idempotency_key":"k-1"}');
SELECT es_append('order-1', 7, '[]', '{"idempotency_key":"k-2"}');
SELECT es_append('order-1', 0,
  '[{"type":"Placed","data":{"total":10},"id":"o1-1"},{"type":"Paid","data":10,"id":"o1-2"}]');
SELECT es_append('order-1', NULL, '{"type":"Shipped","data":"dhl","id":"o1-3"}');
-- echo: ... but not a call that reuses an id with other content (duplicate_event comes first)
SELECT es_append('order-1', 3, '{"type":"Shipped","data":"ups","id":"o1-3"}');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: snapshots can still be saved on a stream archived in place (README table: saves)
SELECT es_snapshot_save('order-1', 3, '{"total":10,"shipped":true}');
SELECT stream_id, version, state FROM es_snapshots;

-- echo: es_restore of the archived stream returns 0; appends work again from its version
SELECT es_restore('order-1');
SELECT es_status('order-1');
SELECT es_append('order-1', 3, '{"type":"Delivered","data":{},"id":"o1-4"}',
  '{"timestamp":1700000000000004}');
SELECT version, type FROM es_stream('order-1');
-- echo: restoring an active stream is a no-op: 0, nothing changes
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_restore('order-1');
SELECT es_restore('order-2');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;

-- echo: es_archive / es_restore join the caller's transaction
BEGIN;
SELECT es_archive('order-2');
SELECT es_status('order-2');
ROLLBACK;
SELECT es_status('order-2');

-- echo: es_tombstone returns the number of events removed
SELECT es_head();
SELECT es_tombstone('order-1', 'gdpr request 42');
SELECT es_status('order-1');
-- echo: the stream row stays: state, reason, time, and the last version
SELECT stream_id, category, version, state, archived_to, tombstone_reason,
       tombstoned_at IS NOT NULL, tombstoned_at = updated_at, tombstoned_at >= created_at
FROM es_streams ORDER BY stream_id;
-- echo: events and snapshot are gone, es_head() does not go backwards
SELECT count(*) FROM es_events WHERE stream_id = 'order-1';
SELECT count(*) FROM es_snapshots WHERE stream_id = 'order-1';
SELECT es_head();
SELECT seq, stream_id, version FROM es_all();
-- echo: the global log no longer holds its events
SELECT count(*) FROM es_all WHERE stream_id = 'order-1';
-- echo: every later append and read of the stream fails with tombstoned
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_append('order-1', 4, '{"type":"Reopened","data":{}}');
SELECT es_append('order-1', 0, '{"type":"Reopened","data":{}}');
SELECT es_append('order-1', NULL, '[]');
SELECT es_append('order-1', 0, '{"type":"Placed","data":{"total":10},"id":"o1-1"}',
  '{"idempotency_key":"k-1"}');
SELECT * FROM es_stream('order-1');
SELECT version FROM es_stream('order-1', 2) WHERE type = 'Paid';
SELECT es_snapshot_save('order-1', 1, '{}');
SELECT es_archive('order-1');
SELECT es_restore('order-1');
SELECT es_tombstone('order-1', 'again');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: the event ids of a tombstoned stream are free again
SELECT es_append('order-2', 1, '{"type":"Noted","data":{},"id":"o1-1"}',
  '{"timestamp":1700000000000005}');
SELECT seq, stream_id, version, event_id FROM es_events ORDER BY seq;

-- echo: a NULL reason is stored as NULL; an empty reason as ''
SELECT es_append('user-5', 0, '{"type":"Registered","data":{}}');
SELECT es_tombstone('user-5', NULL);
SELECT es_append('user-6', 0, '{"type":"Registered","data":{}}');
SELECT es_tombstone('user-6', '');
SELECT stream_id, state, tombstone_reason IS NULL, quote(tombstone_reason)
FROM es_streams WHERE stream_id LIKE 'user-%' ORDER BY 1;
SELECT es_append('user-5', 1, '{"type":"X","data":{}}');
SELECT es_append('user-6', 1, '{"type":"X","data":{}}');

-- echo: es_tombstone of a stream archived in place
SELECT es_append('order-7', 0, '[{"type":"A","data":1},{"type":"B","data":2}]');
SELECT es_archive('order-7');
SELECT es_tombstone('order-7', 'closed');
SELECT stream_id, version, state, tombstone_reason FROM es_streams WHERE stream_id = 'order-7';

-- echo: es_delete purges events, snapshot and stream row and returns the events removed
SELECT es_snapshot_save('order-2', 2, '{"n":2}');
SELECT es_head();
SELECT es_delete('order-2');
SELECT es_status('order-2');
SELECT count(*) FROM es_events WHERE stream_id = 'order-2';
SELECT count(*) FROM es_snapshots WHERE stream_id = 'order-2';
SELECT count(*) FROM es_streams WHERE stream_id = 'order-2';
SELECT * FROM es_stream('order-2');
SELECT es_head();
-- echo: es_delete of a tombstoned stream removes the tombstone (no events left: returns 0)
SELECT es_delete('order-1');
SELECT es_status('order-1');
SELECT count(*) FROM es_streams WHERE stream_id = 'order-1';
-- echo: es_delete of an archived stream
SELECT es_append('order-8', 0, '{"type":"A","data":1}');
SELECT es_archive('order-8');
SELECT es_delete('order-8');
SELECT es_status('order-8');
-- echo: deleted ids start again from version 0, with new seq values (never reused)
SELECT es_append('order-1', 1, '{"type":"Placed","data":{}}');
SELECT es_append('order-1', 0, '{"type":"Placed","data":{"total":1}}',
  '{"timestamp":1700000000000009,"idempotency_key":"k-1"}');
SELECT es_append('order-1', 0, '{"type":"Again","data":{}}', '{"idempotency_key":"k-1"}');
SELECT es_append('order-2', -2, '{"type":"Placed","data":{}}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":2}}',
  '{"timestamp":1700000000000010}');
SELECT seq, stream_id, version, type FROM es_events
WHERE stream_id IN ('order-1', 'order-2') ORDER BY seq;
SELECT stream_id, version, state, tombstone_reason, tombstoned_at FROM es_streams
WHERE stream_id IN ('order-1', 'order-2') ORDER BY 1;

-- echo: not_found: archive, restore, tombstone, delete of a stream that does not exist
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive('order-404');
SELECT es_restore('order-404');
SELECT es_tombstone('order-404', 'x');
SELECT es_delete('order-404');
SELECT es_delete('order-8');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;

-- echo: invalid arguments: stream_id (es_status)
SELECT es_status(NULL);
SELECT es_status(17);
SELECT es_status(1.5);
SELECT es_status(x'6f726465722d31');
SELECT es_status('');
SELECT es_status(printf('%.*c', 1025, 'x'));
SELECT es_status(CAST('order-1' || x'00' || 'x' AS TEXT));
-- echo: invalid arguments: stream_id (es_archive, es_restore, es_tombstone, es_delete)
INSERT OR REPLACE INTO saved VALUES (1, (SELECT w FROM world));
SELECT es_archive(NULL);
SELECT es_archive(17);
SELECT es_archive('');
SELECT es_archive(printf('%.*c', 1025, 'x'));
SELECT es_restore(NULL);
SELECT es_restore(x'6f726465722d31');
SELECT es_restore('');
SELECT es_restore(printf('%.*c', 1025, 'x'));
SELECT es_tombstone(NULL, 'r');
SELECT es_tombstone(2.5, 'r');
SELECT es_tombstone('', 'r');
SELECT es_tombstone(printf('%.*c', 1025, 'x'), 'r');
SELECT es_delete(NULL);
SELECT es_delete(17);
SELECT es_delete('');
SELECT es_delete(printf('%.*c', 1025, 'x'));
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
-- echo: invalid arguments: tombstone reason (TEXT or NULL)
SELECT es_tombstone('order-1', 42);
SELECT es_tombstone('order-1', 4.2);
SELECT es_tombstone('order-1', x'00ff');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT es_status('order-1');
-- echo: invalid arguments: schema must be an attached database other than main and temp
CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
ATTACH (SELECT path FROM temp.dir) || '-y' AS y;
SELECT es_archive('order-1', 'main');
SELECT es_archive('order-1', 'MAIN');
SELECT es_archive('order-1', 'temp');
SELECT es_archive('order-1', 'nosuchdb');
SELECT es_archive('order-1', '');
SELECT es_archive('order-1', NULL);
SELECT es_archive('order-1', 1);
SELECT es_archive('order-1', x'79');
SELECT es_restore('order-1', 'main');
SELECT es_restore('order-1', 'temp');
SELECT es_restore('order-1', 'nosuchdb');
SELECT es_restore('order-1', NULL);
SELECT es_restore('order-1', 2.5);
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
SELECT count(*) FROM y.sqlite_schema;
SELECT es_status('order-1');
-- echo: argument errors come before not_found
SELECT es_archive('order-404', 'temp');
SELECT es_restore('order-404', 'nosuchdb');
SELECT es_tombstone('order-404', 1);
-- echo: arity errors come from SQLite
SELECT es_status();
SELECT es_archive();
SELECT es_archive('order-1', 'y', 'z');
SELECT es_restore();
SELECT es_tombstone('order-1');
SELECT es_delete('order-1', 'x');
SELECT 'unchanged', w = (SELECT w FROM saved) FROM world;
