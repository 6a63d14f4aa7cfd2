-- db: file
-- 013_file_db: the same basics on a database file in WAL mode (the runner's "-- db: file"
-- directive gives a fresh file in a temporary directory): lazy schema, appends, reads, and the
-- append-only triggers, all through a journal that :memory: never exercises.

PRAGMA journal_mode = WAL;
SELECT 'file_01', count(*) = 0 FROM sqlite_schema;
SELECT es_append('order-1', 0, '[{"type":"Placed","data":1,"id":"e-1"},{"type":"Paid","data":2,"id":"e-2"}]',
  '{"timestamp":10}');
SELECT es_append('order-1', 0, '{"type":"Placed","data":1}');
SELECT es_append('order-1', 2, '{"type":"Shipped","data":3,"id":"e-3"}', '{"timestamp":20}');
SELECT seq, stream_id, version, type, data, event_id, created_at FROM es_stream('order-1');
SELECT group_concat(seq) FROM es_all WHERE category = 'order';
DELETE FROM es_events;
BEGIN;
SELECT es_append('order-2', 0, '{"type":"Placed","data":4}');
ROLLBACK;
SELECT 'file_02', es_head() = 3, es_status('order-2') = 'none', count(*) = 3 FROM es_events;
PRAGMA wal_checkpoint(TRUNCATE);
SELECT 'file_03', count(*) = 3 FROM es_all;
