-- 070_transactions: es_append runs inside a savepoint and joins the caller's transaction (SPEC
-- section 3): it commits or rolls back with the caller's own writes, and a failed call undoes
-- only itself. A statement that writes cannot call it (the refusal is clear, nothing is written).
-- The schema is created up front; rolling back the first write of a fresh database is 071/072.

SELECT es_init();
CREATE TABLE orders(id TEXT PRIMARY KEY, total INTEGER);
CREATE VIEW state AS SELECT 'state', (SELECT count(*) FROM es_events),
  (SELECT count(*) FROM orders), (SELECT group_concat(stream_id || '@' || version, ' ')
  FROM (SELECT stream_id, version FROM es_streams ORDER BY stream_id));

-- echo: BEGIN ... ROLLBACK: the append and the caller's row both disappear
BEGIN;
INSERT INTO orders VALUES ('order-1', 10);
SELECT es_append('order-1', 0, '{"type":"Placed","data":{"total":10}}');
SELECT es_head(), es_status('order-1');
SELECT * FROM state;
ROLLBACK;
SELECT * FROM state;
SELECT 'tx_01', es_head() = 0, es_status('order-1') = 'none';

-- echo: BEGIN ... COMMIT: both commit
BEGIN;
INSERT INTO orders VALUES ('order-1', 10);
SELECT es_append('order-1', 0, '{"type":"Placed","data":{"total":10}}');
UPDATE orders SET total = 11 WHERE id = 'order-1';
SELECT es_append('order-1', 1, '{"type":"Changed","data":{"total":11}}');
COMMIT;
SELECT * FROM orders;
SELECT * FROM state;

-- echo: a failed append inside a transaction undoes only itself: the transaction stays open and
-- echo: the caller's earlier writes, and earlier appends, commit
BEGIN;
INSERT INTO orders VALUES ('order-2', 20);
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":20}}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":20}}');
SELECT es_append('order-2', 1, '[{"type":"Paid","data":20},{"type":"Bad"}]');
SELECT es_append('order-2', 1, '{"type":"Paid","data":20,"id":"p-1"}');
SELECT es_append('order-1', 1, '{"type":"Stale","data":0}');
-- echo: the append-only guard is still closed after the failures
INSERT INTO es_events(stream_id, version, type, data, event_id, created_at)
VALUES ('order-2', 3, 'Forged', '0', 'f-1', 1);
SELECT es_append('order-2', 2, '{"type":"Paid","data":20,"id":"p-1"}');
INSERT INTO orders VALUES ('order-3', 30);
COMMIT;
SELECT * FROM orders ORDER BY id;
SELECT seq, stream_id, version, type, event_id = 'p-1' FROM es_events ORDER BY seq;
SELECT 'tx_02', es_head() = 4;

-- echo: savepoints nest: ROLLBACK TO undoes an append made after the savepoint
SAVEPOINT outer_sp;
SELECT es_append('order-3', 0, '{"type":"Placed","data":{"total":30}}');
SAVEPOINT inner_sp;
SELECT es_append('order-3', 1, '{"type":"Paid","data":30}');
ROLLBACK TO inner_sp;
RELEASE inner_sp;
SELECT es_append('order-3', 1, '{"type":"Cancelled","data":null}');
RELEASE outer_sp;
SELECT version, type FROM es_events WHERE stream_id = 'order-3' ORDER BY version;

-- echo: a deferred transaction that has only read so far can append
BEGIN DEFERRED;
SELECT count(*) FROM es_all;
SELECT es_append('order-3', 2, '{"type":"Archived","data":null}');
COMMIT;
BEGIN IMMEDIATE;
SELECT es_append('order-3', 3, '{"type":"Reopened","data":null}');
COMMIT;
SELECT * FROM state;

-- echo: several appends in one SELECT statement, outside a transaction
SELECT es_append('tick-1', NULL, '{"type":"Tick","data":' || column1 || '}')
FROM (VALUES (1), (2), (3));
SELECT es_append('tick-2', 0, '{"type":"A","data":1}'), es_append('tick-2', 1, '{"type":"B","data":2}');
SELECT stream_id, version, type, data FROM es_events WHERE stream_id LIKE 'tick-%' ORDER BY seq;

-- echo: a statement that writes cannot call es_append; nothing is written
INSERT INTO orders SELECT 'order-9', es_append('order-9', 0, '{"type":"Placed","data":9}');
UPDATE orders SET total = es_append('order-1', NULL, '{"type":"Touched","data":1}')
WHERE id = 'order-1';
DELETE FROM orders WHERE total = es_append('order-1', NULL, '{"type":"Touched","data":1}');
BEGIN;
INSERT INTO orders SELECT 'order-9', es_append('order-9', 0, '{"type":"Placed","data":9}');
INSERT INTO orders VALUES ('order-8', 80);
COMMIT;
SELECT * FROM state;
SELECT 'tx_03', es_status('order-9') = 'none';

-- echo: the same refusal when the statement writes only to a TEMP table, or from a TEMP trigger
CREATE TEMP TABLE audit(v);
INSERT INTO audit SELECT es_append('order-9', 0, '{"type":"Placed","data":9}');
CREATE TEMP TRIGGER audit_append AFTER INSERT ON audit
BEGIN SELECT es_append('order-9', NULL, '{"type":"Audited","data":1}'); END;
INSERT INTO audit VALUES (1);
SELECT count(*) FROM audit;
SELECT * FROM state;
SELECT 'tx_04', es_status('order-9') = 'none';
