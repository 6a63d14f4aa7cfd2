-- Tour 2: a projection into a read-model table, exactly once. The read model and the
-- checkpoint move in one transaction, and es_checkpoint's compare-and-set refuses a projector
-- that started from an old position, so no event is applied twice or skipped.
-- Run from the repository root after building:  sqlite3 < sql/examples/projection.sql
-- (it writes tour-projection.db in the current directory).
.open --new tour-projection.db
.load ./build/ext/eskit
.mode box

CREATE TABLE order_items(order_id TEXT PRIMARY KEY, items INTEGER NOT NULL);

.print '-- events of two orders'
SELECT es_append('order-1', 0, '[{"type": "OrderPlaced", "data": {}},
  {"type": "ItemAdded", "data": {"sku": "A-1", "qty": 2}}]') AS "order-1";
SELECT es_append('order-2', 0, '[{"type": "OrderPlaced", "data": {}},
  {"type": "ItemAdded", "data": {"sku": "C-3", "qty": 5}}]') AS "order-2";

.print '-- the projector: reads after its checkpoint (0), applies, moves the checkpoint 0 -> head'
BEGIN IMMEDIATE;
INSERT INTO order_items(order_id, items)
  SELECT stream_id, sum(json_extract(data, '$.qty')) FROM es_all(es_checkpoint('order_items'))
   WHERE type = 'ItemAdded' GROUP BY stream_id
  ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items;
SELECT es_checkpoint('order_items', 0, es_head()) AS checkpoint;  -- BEGIN IMMEDIATE: head = last read
COMMIT;
SELECT * FROM order_items ORDER BY order_id;

.print '-- more events; the projector runs again from 4'
SELECT es_append('order-1', 2, '{"type": "ItemAdded", "data": {"sku": "B-7", "qty": 1}}') AS "order-1";
BEGIN IMMEDIATE;
INSERT INTO order_items(order_id, items)
  SELECT stream_id, sum(json_extract(data, '$.qty')) FROM es_all(es_checkpoint('order_items'))
   WHERE type = 'ItemAdded' GROUP BY stream_id
  ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items;
SELECT es_checkpoint('order_items', 4, es_head()) AS checkpoint;
COMMIT;
SELECT * FROM order_items ORDER BY order_id;

.print '-- a second projector instance that still believes the checkpoint is 4 is refused;'
.print '-- it rolls back, and its writes to the read model go with it'
BEGIN IMMEDIATE;
UPDATE order_items SET items = items + 1 WHERE order_id = 'order-1';
SELECT es_checkpoint('order_items', 4, es_head());
ROLLBACK;
SELECT * FROM order_items ORDER BY order_id;
SELECT es_checkpoint('order_items') AS checkpoint;

.print '-- a rebuild: empty the read model and set the checkpoint back to 0, in one transaction'
BEGIN IMMEDIATE;
DELETE FROM order_items;
SELECT es_checkpoint('order_items', 0) AS checkpoint;
COMMIT;
SELECT count(*) AS rows FROM order_items;
