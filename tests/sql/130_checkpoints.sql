-- 130_checkpoints: es_checkpoint(consumer [, [expected,] seq]) (SPEC section 3, README
-- "es_checkpoint"): reading, storing (also backwards), compare-and-set, invalid arguments with
-- exact messages, transactions, and an exactly-once projection step in plain SQL.

-- echo: an unknown consumer is at 0; reading creates nothing
SELECT es_checkpoint('totals');
SELECT 'cp_01', count(*) = 0 FROM sqlite_schema;

-- echo: store a position: returns it; the stored row carries the time
SELECT es_checkpoint('totals', 5);
SELECT es_checkpoint('totals');
SELECT consumer, seq, updated_at > 0 FROM es_checkpoints;
SELECT es_checkpoint('other');
-- echo: positions may move backwards (rebuilds), and to 0
SELECT es_checkpoint('totals', 2);
SELECT es_checkpoint('totals');
SELECT es_checkpoint('totals', 0);
SELECT es_checkpoint('totals');
SELECT es_checkpoint('totals', 9223372036854775807);
SELECT es_checkpoint('totals');
SELECT es_checkpoint('totals', 5);
-- echo: consumers are independent
SELECT es_checkpoint('audit', 1);
SELECT consumer, seq FROM es_checkpoints ORDER BY consumer;

-- echo: compare-and-set: succeeds when the stored position equals expected
SELECT es_checkpoint('totals', 5, 8);
SELECT es_checkpoint('totals');
SELECT es_checkpoint('totals', 8, 8);
SELECT es_checkpoint('totals', 8, 3);
SELECT es_checkpoint('totals');
-- echo: an unknown consumer is at 0 for compare-and-set too
SELECT es_checkpoint('fresh', 0, 4);
SELECT es_checkpoint('fresh');
-- echo: conflict when it does not; nothing is stored
SELECT es_checkpoint('totals', 5, 9);
SELECT es_checkpoint('totals', 0, 9);
SELECT es_checkpoint('nobody', 12, 17);
SELECT es_checkpoint('totals'), es_checkpoint('nobody');
SELECT consumer, seq FROM es_checkpoints ORDER BY consumer;

-- echo: invalid arguments: consumer (TEXT, 1 to 1024 bytes)
SELECT es_checkpoint(NULL);
SELECT es_checkpoint(NULL, 1);
SELECT es_checkpoint(NULL, 0, 1);
SELECT es_checkpoint('');
SELECT es_checkpoint('', 1);
SELECT es_checkpoint(7);
SELECT es_checkpoint(7, 1);
SELECT es_checkpoint(x'74', 1);
SELECT es_checkpoint(printf('%.*c', 1025, 'c'));
SELECT es_checkpoint(printf('%.*c', 1025, 'c'), 1);
-- echo: invalid arguments: seq and expected (integers >= 0)
SELECT es_checkpoint('totals', -1);
SELECT es_checkpoint('totals', 'abc');
SELECT es_checkpoint('totals', '7');
SELECT es_checkpoint('totals', 1.5);
SELECT es_checkpoint('totals', NULL);
SELECT es_checkpoint('totals', x'01');
SELECT es_checkpoint('totals', -1, 4);
SELECT es_checkpoint('totals', 'x', 4);
SELECT es_checkpoint('totals', NULL, 4);
SELECT es_checkpoint('totals', 3, -4);
SELECT es_checkpoint('totals', 3, NULL);
-- echo: arity errors come from SQLite
SELECT es_checkpoint();
SELECT es_checkpoint('totals', 1, 2, 3);
-- echo: nothing changed
SELECT consumer, seq FROM es_checkpoints ORDER BY consumer;

-- echo: es_checkpoint joins the caller's transaction: rolled back with it
BEGIN;
SELECT es_checkpoint('totals', 3, 100);
SELECT es_checkpoint('newcomer', 50);
SELECT es_checkpoint('totals'), es_checkpoint('newcomer');
ROLLBACK;
SELECT es_checkpoint('totals'), es_checkpoint('newcomer');
SELECT consumer, seq FROM es_checkpoints ORDER BY consumer;
-- echo: a failed compare-and-set inside a transaction leaves the transaction usable
BEGIN;
SELECT es_checkpoint('totals', 3, 4);
SELECT es_checkpoint('totals', 3, 5);
SELECT es_checkpoint('totals', 4, 5);
COMMIT;
SELECT es_checkpoint('totals');

-- echo: exactly-once projection in plain SQL: read a page after the checkpoint, apply it to
-- echo: the read model and move the checkpoint from the old to the new position in one
-- echo: transaction
SELECT es_append('order-17', 0,
  '[{"type":"OrderPlaced","data":{"total":25.49}},{"type":"ItemAdded","data":{"price":4.5}}]');
SELECT es_append('order-18', 0, '{"type":"OrderPlaced","data":{"total":10}}');
SELECT es_append('order-17', 2, '{"type":"ItemAdded","data":{"price":0.01}}');
CREATE TABLE order_totals(order_id TEXT PRIMARY KEY, total REAL);
CREATE TEMP TABLE page AS SELECT * FROM es_all LIMIT 0;
-- echo: step 1: a page of 2 events after checkpoint 0
BEGIN IMMEDIATE;
INSERT INTO temp.page SELECT * FROM es_all(es_checkpoint('proj')) LIMIT 2;
SELECT seq, stream_id, type FROM temp.page ORDER BY seq;
INSERT INTO order_totals(order_id, total)
  SELECT stream_id, sum(coalesce(json_extract(data, '$.total'), json_extract(data, '$.price')))
  FROM temp.page GROUP BY stream_id
  ON CONFLICT(order_id) DO UPDATE SET total = round(total + excluded.total, 2);
SELECT es_checkpoint('proj', es_checkpoint('proj'), (SELECT max(seq) FROM temp.page));
COMMIT;
DELETE FROM temp.page;
SELECT order_id, total FROM order_totals ORDER BY order_id;
SELECT es_checkpoint('proj');
-- echo: a second projector that read the same page (from 0) loses the race: conflict, and
-- echo: its read-model write is rolled back with the transaction
BEGIN IMMEDIATE;
INSERT INTO order_totals(order_id, total) VALUES ('order-17', 29.99)
  ON CONFLICT(order_id) DO UPDATE SET total = round(total + excluded.total, 2);
SELECT es_checkpoint('proj', 0, 2);
ROLLBACK;
SELECT order_id, total FROM order_totals ORDER BY order_id;
-- echo: step 2: the next page starts after the checkpoint: nothing missed or repeated
BEGIN IMMEDIATE;
INSERT INTO temp.page SELECT * FROM es_all(es_checkpoint('proj')) LIMIT 2;
SELECT seq, stream_id, type FROM temp.page ORDER BY seq;
INSERT INTO order_totals(order_id, total)
  SELECT stream_id, sum(coalesce(json_extract(data, '$.total'), json_extract(data, '$.price')))
  FROM temp.page GROUP BY stream_id
  ON CONFLICT(order_id) DO UPDATE SET total = round(total + excluded.total, 2);
SELECT es_checkpoint('proj', es_checkpoint('proj'), (SELECT max(seq) FROM temp.page));
COMMIT;
DELETE FROM temp.page;
SELECT order_id, total FROM order_totals ORDER BY order_id;
SELECT es_checkpoint('proj'), es_head();
-- echo: step 3: the log is exhausted: the page is empty
SELECT count(*) FROM es_all(es_checkpoint('proj'));
