-- 011_lazy_schema: without es_init(), the first es_append creates the schema (SPEC section 1:
-- "Tables are created by es_init() or by the first call that writes"). A first call that fails
-- leaves the database as it was, schema included.

-- echo: a fresh database has no tables
SELECT 'lazy_01', count(*) = 0 FROM sqlite_schema;

-- echo: a first append that fails changes nothing, not even the schema
SELECT es_append('order-1', 5, '{"type":"Placed","data":1}');
SELECT es_append('order-1', -2, '{"type":"Placed","data":1}');
SELECT es_append('order-1', 0, '[{"type":"Placed","data":1},{"type":"Paid"}]');
SELECT 'lazy_02', count(*) = 0 FROM sqlite_schema;

-- echo: an empty batch on a stream that does not exist returns version 0
SELECT es_append('order-1', 0, '[]');
SELECT es_append('order-1', NULL, '[]');

-- echo: the first successful append creates every table, then writes
SELECT es_append('order-1', 0, '{"type":"Placed","data":1,"id":"e-1"}', '{"timestamp":7}');
SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;
SELECT key, CASE key WHEN 'store_id' THEN length(value) ELSE value END FROM es_meta ORDER BY key;
SELECT seq, stream_id, es_category(stream_id), version, type, data, event_id, created_at FROM es_events;
SELECT stream_id, category, version, state FROM es_streams;
SELECT 'lazy_03', es_head() = 1, es_status('order-1') = 'active';

-- echo: es_init() afterwards is a no-op that reports the schema version
CREATE TEMP TABLE before AS SELECT type, name, sql FROM sqlite_schema;
SELECT es_init();
SELECT 'lazy_04', count(*) = 0 FROM (
  SELECT type, name, sql FROM sqlite_schema EXCEPT SELECT type, name, sql FROM before);
SELECT 'lazy_05', count(*) = 1 FROM es_events;
