-- 071_rollback_first_append: the first es_append of a fresh database creates the schema inside
-- the caller's transaction. When the caller rolls back, the schema goes too (nothing is left),
-- and the connection must notice: the next append creates the schema again and succeeds.

BEGIN;
SELECT es_append('order-1', 0, '{"type":"Placed","data":1}');
SELECT 'first_01', count(*) > 0 FROM sqlite_schema WHERE name = 'es_events';
-- echo: reads inside the transaction (their statements stay prepared in the connection's pool)
SELECT count(*) FROM es_all;
SELECT count(*) FROM es_stream('order-1');
ROLLBACK;
SELECT 'first_02', count(*) = 0 FROM sqlite_schema;
SELECT 'first_03', es_head() = 0, es_status('order-1') = 'none';
-- echo: the same reads now find no tables: no rows, not an error
SELECT count(*) FROM es_all;
SELECT count(*) FROM es_stream('order-1');
SELECT count(*) FROM es_all WHERE category = 'order';

-- echo: the connection still works: appends (and es_init) recreate the schema
SELECT es_append('order-1', 0, '{"type":"Placed","data":1}');
SELECT es_append('order-1', 1, '{"type":"Paid","data":2}');
SELECT es_init();
SELECT seq, stream_id, version, type FROM es_events ORDER BY seq;
SELECT 'first_04', es_head() = 2, es_status('order-1') = 'active';
