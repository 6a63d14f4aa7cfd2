-- 090_all_reads: es_all([after_seq]) (SPEC section 4): the global log, rows with seq > after_seq
-- (default 0) in seq order, with seq ranges, category, type and stream_id filters, ORDER BY seq
-- DESC, LIMIT/OFFSET, and the paging pattern of a consumer.

-- echo: an empty store has an empty log
SELECT count(*) FROM es_all;
SELECT count(*) FROM es_all(0);

SELECT es_append('order-1', 0, '[{"type":"Placed","data":1},{"type":"Paid","data":2}]',
  '{"timestamp":1}');
SELECT es_append('cart-1', 0, '{"type":"Added","data":3}', '{"timestamp":2}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":4}', '{"timestamp":3}');
SELECT es_append('order-1', 2, '{"type":"Shipped","data":5}', '{"timestamp":4}');
SELECT es_append('cart-1', 1, '[{"type":"Removed","data":6},{"type":"Placed","data":7}]',
  '{"timestamp":5}');
SELECT es_append('order', 0, '{"type":"Paid","data":8}', '{"timestamp":6}');

-- echo: the whole log in seq order
SELECT seq, stream_id, category, version, type, data, metadata, codec, schema_version,
       idempotency_key, created_at FROM es_all;
SELECT 'all_01', count(*) = 8, min(seq) = 1, max(seq) = es_head() FROM es_all;
-- echo: after_seq, also as the hidden column
SELECT seq, after_seq FROM es_all(5);
SELECT group_concat(seq) FROM es_all WHERE after_seq = 6;
SELECT group_concat(seq) FROM es_all(0);
SELECT group_concat(seq) FROM es_all(-3);
SELECT count(*) FROM es_all(8);
SELECT count(*) FROM es_all(1000);
SELECT group_concat(seq) FROM es_all(2.5);
SELECT count(*) FROM es_all(NULL);
SELECT after_seq FROM es_all LIMIT 1;

-- echo: seq ranges
SELECT group_concat(seq) FROM es_all WHERE seq = 3;
SELECT group_concat(seq) FROM es_all WHERE seq > 6;
SELECT group_concat(seq) FROM es_all WHERE seq >= 6;
SELECT group_concat(seq) FROM es_all WHERE seq < 3;
SELECT group_concat(seq) FROM es_all WHERE seq <= 3;
SELECT group_concat(seq) FROM es_all WHERE seq BETWEEN 3 AND 5;
SELECT group_concat(seq) FROM es_all(4) WHERE seq BETWEEN 3 AND 6;
SELECT group_concat(seq) FROM es_all WHERE seq IN (2, 7, 99);
SELECT count(*) FROM es_all WHERE seq > 5 AND seq < 5;
SELECT group_concat(seq) FROM es_all WHERE rowid >= 7;

-- echo: category =
SELECT seq, stream_id FROM es_all WHERE category = 'order';
SELECT seq, stream_id FROM es_all WHERE category = 'cart';
SELECT count(*) FROM es_all WHERE category = 'ord';
SELECT count(*) FROM es_all WHERE category = 'ORDER';
SELECT group_concat(seq) FROM es_all WHERE category IN ('cart', 'order');

-- echo: type = and type IN (...)
SELECT seq, type FROM es_all WHERE type = 'Placed';
SELECT seq, type FROM es_all WHERE type IN ('Paid', 'Shipped');
SELECT seq, type FROM es_all WHERE type IN (SELECT 'Added' UNION SELECT 'Removed');
SELECT count(*) FROM es_all WHERE type = NULL;
SELECT count(*) FROM es_all WHERE type = 'Placed' AND type = 'Paid';

-- echo: stream_id = and stream_id IN (...)
SELECT seq, stream_id, version FROM es_all WHERE stream_id = 'cart-1';
SELECT seq, stream_id, version FROM es_all WHERE stream_id IN ('order-2', 'cart-1');
SELECT count(*) FROM es_all WHERE stream_id = 'nope-1';
SELECT group_concat(seq) FROM es_all WHERE stream_id = 'CART-1' COLLATE NOCASE;

-- echo: combinations
SELECT seq, stream_id, type FROM es_all WHERE category = 'order' AND type = 'Placed';
SELECT seq, stream_id, type FROM es_all WHERE category = 'cart' AND type IN ('Placed', 'Removed');
SELECT seq, stream_id, type FROM es_all WHERE stream_id = 'order-1' AND type = 'Paid';
SELECT seq, stream_id, type FROM es_all WHERE stream_id IN ('order-1', 'cart-1')
  AND type IN ('Placed', 'Shipped');
SELECT seq, stream_id, type FROM es_all(1) WHERE category IN ('order', 'cart') AND type = 'Placed';
SELECT count(*) FROM es_all WHERE category = 'order' AND stream_id = 'cart-1';
SELECT seq, stream_id, version FROM es_all WHERE category = 'order' AND version = 1;

-- echo: ORDER BY seq DESC
SELECT group_concat(seq) FROM (SELECT seq FROM es_all ORDER BY seq DESC);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE category = 'order' ORDER BY seq DESC);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE type IN ('Placed', 'Paid')
  ORDER BY seq DESC LIMIT 2);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE stream_id IN ('order-1', 'cart-1')
  ORDER BY seq DESC);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all(3) ORDER BY seq DESC);

-- echo: LIMIT and OFFSET
SELECT group_concat(seq) FROM (SELECT seq FROM es_all LIMIT 3);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all LIMIT 3 OFFSET 2);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all ORDER BY seq DESC LIMIT 2 OFFSET 1);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE stream_id IN ('order-1', 'cart-1')
  LIMIT 2 OFFSET 2);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE category = 'order' LIMIT 2 OFFSET 1);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all LIMIT -1 OFFSET 6);
SELECT count(*) FROM (SELECT seq FROM es_all LIMIT 0);
-- echo: filters SQLite applies itself still see every row (no LIMIT pushed past them)
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE data LIKE '%7%' LIMIT 1);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE type LIKE 'P%' LIMIT 3);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all ORDER BY type, seq LIMIT 3);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE version = 2 LIMIT 1);

-- echo: paging: a consumer reads es_all(checkpoint) LIMIT 3 and moves its checkpoint to the
-- echo: last seq it saw; events appended between pages are picked up, none is seen twice
CREATE TEMP TABLE checkpoint(pos INTEGER);
INSERT INTO checkpoint VALUES (0);
CREATE TEMP TABLE seen(page INTEGER, seq INTEGER);
INSERT INTO seen SELECT 1, seq FROM es_all((SELECT pos FROM checkpoint)) LIMIT 3;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 2, seq FROM es_all((SELECT pos FROM checkpoint)) LIMIT 3;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
SELECT es_append('order-3', 0, '[{"type":"Placed","data":9},{"type":"Paid","data":10}]',
  '{"timestamp":7}');
INSERT INTO seen SELECT 3, seq FROM es_all((SELECT pos FROM checkpoint)) LIMIT 3;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 4, seq FROM es_all((SELECT pos FROM checkpoint)) LIMIT 3;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 5, seq FROM es_all((SELECT pos FROM checkpoint)) LIMIT 3;
SELECT page, group_concat(seq) FROM seen GROUP BY page ORDER BY page;
SELECT 'all_02', count(*) = es_head(), count(DISTINCT seq) = count(*),
  (SELECT pos FROM checkpoint) = es_head() FROM seen;
-- echo: the same with a filter: a category consumer pages through its own events only
DELETE FROM seen;
UPDATE checkpoint SET pos = 0;
INSERT INTO seen SELECT 1, seq FROM es_all((SELECT pos FROM checkpoint))
  WHERE category = 'order' LIMIT 2;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 2, seq FROM es_all((SELECT pos FROM checkpoint))
  WHERE category = 'order' LIMIT 2;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 3, seq FROM es_all((SELECT pos FROM checkpoint))
  WHERE category = 'order' LIMIT 2;
UPDATE checkpoint SET pos = (SELECT max(seq) FROM seen);
INSERT INTO seen SELECT 4, seq FROM es_all((SELECT pos FROM checkpoint))
  WHERE category = 'order' LIMIT 2;
SELECT page, group_concat(seq) FROM seen GROUP BY page ORDER BY page;

-- echo: argument errors
SELECT * FROM es_all(1, 2);

-- echo: values come out of both tables with their types: empty and non-empty blobs, NULLs, text
SELECT es_append('blob-1', 0, '[{"type":"E","data":"","codec":"bin"},{"type":"F","data":"AAEC","codec":"bin"},{"type":"G","data":1.5}]');
SELECT version, typeof(data), quote(data), typeof(metadata), typeof(seq), typeof(created_at)
FROM es_stream('blob-1');
SELECT typeof(data), quote(data), codec FROM es_all WHERE stream_id = 'blob-1';

-- echo: event_id = and IN: generated ids (which carry their seq) and caller-given ones
SELECT es_append('ids-1', 0, '[{"type":"T","data":1,"id":"given-1"},{"type":"T","data":2}]');
SELECT seq, stream_id, version FROM es_all WHERE event_id = 'given-1';
SELECT seq, version FROM es_all WHERE event_id = (SELECT event_id FROM es_events WHERE stream_id = 'ids-1' AND version = 2);
SELECT group_concat(version) FROM es_all WHERE event_id IN ('given-1', (SELECT event_id FROM es_events WHERE stream_id = 'ids-1' AND version = 2), 'absent');
SELECT count(*) FROM es_all WHERE event_id = 'absent';
SELECT count(*) FROM es_all WHERE event_id = 'given-1' AND seq < 9;
SELECT count(*) FROM es_all WHERE event_id = 'given-1' AND stream_id = 'other';
-- echo: an id shaped like a generated one that carries another event's seq is not that event
SELECT count(*) FROM es_all WHERE event_id = '01900000-0000-7000-8000-000000000001';
