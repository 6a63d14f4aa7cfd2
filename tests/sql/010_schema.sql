-- 010_schema: the storage model of SPEC section 1. Loading the extension creates nothing;
-- es_init() creates the tables (idempotently) and so does the first write. es_events and
-- es_streams refuse direct INSERT/UPDATE/DELETE; seq is assigned after es_head() and never reused.
-- The lazy creation by a first es_append is in 011_lazy_schema; 071/072 roll a first write
-- back.

-- echo: registering creates nothing, and reads and status work on the empty database
SELECT 'schema_01', count(*) = 0 FROM sqlite_schema;
SELECT 'schema_02', es_head() = 0, es_status('order-1') = 'none';
SELECT count(*) FROM es_all;
SELECT count(*) FROM es_stream('order-1');
SELECT 'schema_03', count(*) = 0 FROM sqlite_schema;

-- echo: es_init() creates the schema and returns the schema version; it is idempotent
SELECT es_init();
SELECT type, name, tbl_name FROM sqlite_schema ORDER BY type, name;
SELECT key, CASE key WHEN 'store_id' THEN length(value) ELSE value END FROM es_meta ORDER BY key;
CREATE TEMP TABLE before AS SELECT type, name, sql FROM sqlite_schema;
SELECT es_init();
SELECT es_init();
SELECT 'schema_04', count(*) = 0 FROM (
  SELECT type, name, sql FROM sqlite_schema EXCEPT SELECT type, name, sql FROM before);
SELECT 'schema_04b', count(*) = 0 FROM (
  SELECT type, name, sql FROM before EXCEPT SELECT type, name, sql FROM sqlite_schema);
SELECT 'schema_05', es_head() = 0, es_status('order-1') = 'none';

-- echo: es_events columns
SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info('es_events');
-- echo: es_streams columns
SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info('es_streams');
-- echo: es_snapshots columns
SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info('es_snapshots');
-- echo: es_checkpoints columns
SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info('es_checkpoints');

-- echo: indexes: name|unique|partial|columns
SELECT il.name, il."unique", il.partial,
       (SELECT group_concat(coalesce(ii.name, '<expr>'), ',') FROM pragma_index_info(il.name) ii)
FROM pragma_index_list('es_events') il ORDER BY il.name;
SELECT il.name, il."unique", il.partial,
       (SELECT group_concat(coalesce(ii.name, '<expr>'), ',') FROM pragma_index_info(il.name) ii)
FROM pragma_index_list('es_streams') il ORDER BY il.name;
SELECT 'schema_06', sql LIKE '%seq%INTEGER PRIMARY KEY,%' AND sql NOT LIKE '%AUTOINCREMENT%'
FROM sqlite_schema WHERE name = 'es_events';

-- echo: a few events so that the append-only rules have something to protect
SELECT es_append('order-1', 0,
  '[{"type":"Placed","data":{"total":10},"id":"e-1"},{"type":"Paid","data":10,"id":"e-2"}]',
  '{"timestamp":1700000000000000}');
SELECT es_append('cart-1', 0, '{"type":"Added","data":"sku-1","id":"e-3"}',
  '{"timestamp":1700000000000001}');
SELECT seq, stream_id, version, type, data, event_id FROM es_events ORDER BY seq;
SELECT stream_id, category, version, state, created_at, updated_at FROM es_streams
ORDER BY stream_id;

-- echo: direct writes to es_events fail, whatever the form
INSERT INTO es_events(stream_id, version, type, data, event_id, created_at)
VALUES ('order-1', 3, 'Forged', '1', 'e-9', 1);
INSERT OR IGNORE INTO es_events(stream_id, version, type, data, event_id, created_at)
VALUES ('order-1', 3, 'Forged', '1', 'e-9', 1);
REPLACE INTO es_events(seq, stream_id, version, type, data, event_id, created_at)
VALUES (1, 'order-1', 1, 'Forged', '1', 'e-1', 1);
UPDATE es_events SET data = '0' WHERE seq = 1;
DELETE FROM es_events WHERE seq = 3;
DELETE FROM es_events;

-- echo: direct writes to es_streams fail
INSERT INTO es_streams(stream_id, category, version, created_at, updated_at)
VALUES ('order-2', 'order', 1, 1, 1);
UPDATE es_streams SET version = 9 WHERE stream_id = 'order-1';
UPDATE es_streams SET state = 'tombstoned';
DELETE FROM es_streams WHERE stream_id = 'cart-1';

-- echo: ... and changed nothing
SELECT seq, stream_id, version, type, data, event_id FROM es_events ORDER BY seq;
SELECT stream_id, category, version, state, created_at, updated_at FROM es_streams
ORDER BY stream_id;

-- echo: snapshots and checkpoints are plain tables
INSERT INTO es_checkpoints(consumer, seq, updated_at) VALUES ('projector', 2, 1);
SELECT * FROM es_checkpoints;
DELETE FROM es_checkpoints;

-- echo: seq is assigned by eskit, not AUTOINCREMENT: no sqlite_sequence, no floor until a delete
SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence';
SELECT count(*) FROM es_meta WHERE key = 'seq_floor';
SELECT 'schema_08', es_head() = 3;
-- echo: failed appends consume no seq; the next events continue at 4, consecutively
SELECT es_append('order-1', 0, '{"type":"Late","data":1}');
SELECT es_append('order-1', 2, '[{"type":"Shipped","data":1},{"type":"Delivered","data":2}]');
SELECT seq, stream_id, version, type FROM es_events WHERE seq > 3 ORDER BY seq;
SELECT 'schema_09', es_head() = 5, (SELECT max(seq) FROM es_events) = 5;
-- echo: deleting the newest events gives no seq back: es_head() stays, the next append gets 6
SELECT es_delete('order-1');
SELECT 'schema_10', es_head() = 5, (SELECT max(seq) FROM es_events) = 3,
  (SELECT value FROM es_meta WHERE key = 'seq_floor') = 5;
SELECT es_append('order-1', 0, '{"type":"Placed","data":1}');
SELECT seq, stream_id, version, type FROM es_events ORDER BY seq;
SELECT 'schema_11', es_head() = 6;
