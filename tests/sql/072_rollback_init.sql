-- 072_rollback_init: es_init() inside a transaction that the caller rolls back leaves nothing,
-- and later calls on the same connection create the schema again.

BEGIN;
SELECT es_init();
ROLLBACK;
SELECT 'init_01', count(*) = 0 FROM sqlite_schema;
SELECT 'init_02', es_head() = 0, es_status('order-1') = 'none';

-- echo: the connection still works
SELECT es_init();
SELECT 'init_03', count(*) = 1 FROM sqlite_schema WHERE name = 'es_events';
SELECT es_append('order-1', 0, '{"type":"Placed","data":1}');
SELECT seq, stream_id, version, type FROM es_events ORDER BY seq;
