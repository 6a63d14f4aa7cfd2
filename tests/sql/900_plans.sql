-- 900_plans: EXPLAIN QUERY PLAN for each plan shape of es_stream and es_all. The runner prints
-- only the detail column. What we own is "INDEX <idxNum>:<idxStr>": idxNum bit 0 = descending,
-- bit 1 = driven by stream_id, bit 2 = by category, bit 3 = by type; idxStr lists the
-- constraints handed to xFilter in argv order ("limit"/"offset" when they are pushed down).
-- The wording around it is SQLite 3.40.1's.

SELECT es_init();

-- echo: es_stream: last event (one seek, backwards, LIMIT pushed)
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') ORDER BY version DESC LIMIT 1;
-- echo: es_stream: from_version and a version range
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1', 3);
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') WHERE version BETWEEN 2 AND 4;
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') WHERE version = 7;
-- echo: es_stream: type IN, with LIMIT and OFFSET
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') WHERE type IN ('A', 'B') LIMIT 10 OFFSET 5;
-- echo: es_stream: ORDER BY version (ascending) is the natural order, nothing to sort
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') ORDER BY version;
-- echo: es_stream: correlated stream argument
EXPLAIN QUERY PLAN WITH ids(id) AS (VALUES ('s-1'), ('s-2'))
SELECT * FROM ids, es_stream(ids.id);

-- echo: es_all: tail by after_seq, with LIMIT (a consumer's page)
EXPLAIN QUERY PLAN SELECT * FROM es_all(100);
EXPLAIN QUERY PLAN SELECT * FROM es_all(100) LIMIT 1000;
-- echo: es_all: seq range backwards with LIMIT and OFFSET
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE seq > 5 AND seq <= 10 ORDER BY seq DESC LIMIT 2 OFFSET 1;
-- echo: es_all: category =
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE category = 'order';
EXPLAIN QUERY PLAN SELECT * FROM es_all(100) WHERE category = 'order' LIMIT 50;
-- echo: es_all: type = and type IN
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE type = 'Placed';
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE type IN ('Placed', 'Paid');
-- echo: es_all: stream_id = and stream_id IN
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE stream_id = 'order-1';
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE stream_id IN ('order-1', 'order-2');
-- echo: es_all: combinations (stream_id drives, then category, then type; the rest filter)
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE category = 'order' AND type = 'Placed';
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE category = 'order' AND type = 'Placed' AND stream_id = 'order-1';
-- echo: es_all: event_id = and IN drive before everything else (at most one row each)
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE event_id = 'e-1';
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE event_id IN ('e-1', 'e-2') AND stream_id = 'order-1';
-- echo: es_all: LIMIT pushed down with nothing else
EXPLAIN QUERY PLAN SELECT * FROM es_all LIMIT 10;

-- echo: LIMIT must not be pushed when SQLite filters or sorts after the table
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE data LIKE '%x%' LIMIT 5;
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE type LIKE 'P%' LIMIT 5;
EXPLAIN QUERY PLAN SELECT * FROM es_all ORDER BY type LIMIT 5;
EXPLAIN QUERY PLAN SELECT * FROM es_all WHERE stream_id = 'order-1' COLLATE NOCASE LIMIT 5;
EXPLAIN QUERY PLAN SELECT * FROM es_stream('s-1') WHERE json_extract(data, '$.n') > 1 LIMIT 5;
