-- 080_stream_reads: es_stream(stream_id [, from_version]) (SPEC section 4): the stream's events
-- in version order from from_version (inclusive, default 1), with version ranges, type filters,
-- ORDER BY version DESC, LIMIT and OFFSET. Unknown stream or NULL argument: no rows.

-- echo: reads before anything was written return no rows and create nothing
SELECT * FROM es_stream('s-1');
SELECT 'read_01', count(*) = 0 FROM sqlite_schema;

SELECT es_append('s-1', 0, '[
  {"type":"A","data":{"n":1},"id":"a1","metadata":{"m":1}},
  {"type":"B","data":{"n":2},"id":"a2"},
  {"type":"C","data":{"n":3},"id":"a3","schema_version":2},
  {"type":"A","data":{"n":4},"id":"a4"},
  {"type":"B","data":{"n":5},"id":"a5"}]', '{"timestamp":1000,"idempotency_key":"k1"}');
SELECT es_append('s-2', 0, '{"type":"A","data":{"n":6},"id":"b1"}', '{"timestamp":2000}');
SELECT es_append('s-1', 5, '[{"type":"C","data":"AAE=","id":"a6","codec":"raw"}]',
  '{"timestamp":3000}');

-- echo: all columns, version order
SELECT * FROM es_stream('s-1');
-- echo: hidden columns: stream and from_version, as given (from_version NULL when omitted)
SELECT version, stream, from_version FROM es_stream('s-1', 5);
SELECT version, stream, from_version FROM es_stream('s-1') LIMIT 1;
SELECT version FROM es_stream WHERE stream = 's-1' AND from_version = 5;
SELECT count(*) FROM es_stream WHERE stream = 's-2';

-- echo: from_version (inclusive); below 1 means from the start
SELECT group_concat(version) FROM es_stream('s-1', 1);
SELECT group_concat(version) FROM es_stream('s-1', 4);
SELECT group_concat(version) FROM es_stream('s-1', 6);
SELECT count(*) FROM es_stream('s-1', 7);
SELECT group_concat(version) FROM es_stream('s-1', 0);
SELECT group_concat(version) FROM es_stream('s-1', -5);
SELECT group_concat(version) FROM es_stream('s-1', 2.5);
SELECT count(*) FROM es_stream('s-1', NULL);

-- echo: WHERE version ranges
SELECT group_concat(version) FROM es_stream('s-1') WHERE version = 3;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version > 4;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version >= 4;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version < 3;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version <= 3;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version BETWEEN 2 AND 4;
SELECT group_concat(version) FROM es_stream('s-1', 3) WHERE version BETWEEN 2 AND 4;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version > 1 AND version < 6 AND version <> 3;
SELECT count(*) FROM es_stream('s-1') WHERE version > 3 AND version < 3;
SELECT group_concat(version) FROM es_stream('s-1') WHERE version IN (2, 4, 9);
SELECT group_concat(version) FROM es_stream('s-1') WHERE version = '3';
SELECT group_concat(version) FROM es_stream('s-1') WHERE version > 2.5;
SELECT count(*) FROM es_stream('s-1') WHERE version = NULL;
SELECT count(*) FROM es_stream('s-1') WHERE version > 'x';

-- echo: WHERE type = and type IN (...)
SELECT version, type FROM es_stream('s-1') WHERE type = 'A';
SELECT version, type FROM es_stream('s-1') WHERE type IN ('A', 'C');
SELECT version, type FROM es_stream('s-1') WHERE type IN (SELECT 'B' UNION SELECT 'nope');
SELECT count(*) FROM es_stream('s-1') WHERE type = 'Z';
SELECT count(*) FROM es_stream('s-1') WHERE type = 'a';
SELECT version, type FROM es_stream('s-1', 2) WHERE type IN ('A', 'C') AND version < 6;

-- echo: ORDER BY version DESC reads backwards
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') ORDER BY version DESC);
SELECT version, type FROM es_stream('s-1') ORDER BY version DESC LIMIT 1;
SELECT version, type FROM es_stream('s-1') WHERE type = 'A' ORDER BY version DESC LIMIT 1;
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') WHERE version <= 4
  ORDER BY version DESC);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') ORDER BY seq DESC);

-- echo: LIMIT and OFFSET
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') LIMIT 2);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') LIMIT 2 OFFSET 3);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') LIMIT 10 OFFSET 5);
SELECT count(*) FROM (SELECT version FROM es_stream('s-1') LIMIT 10 OFFSET 6);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') LIMIT -1 OFFSET 4);
SELECT count(*) FROM (SELECT version FROM es_stream('s-1') LIMIT 0);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1')
  ORDER BY version DESC LIMIT 2 OFFSET 1);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1', 2)
  WHERE type IN ('A', 'B') LIMIT 2 OFFSET 1);
-- echo: filters SQLite applies itself still see every row (no LIMIT pushed past them)
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1')
  WHERE json_extract(data, '$.n') >= 3 LIMIT 2);
SELECT group_concat(version) FROM (SELECT version FROM es_stream('s-1') ORDER BY type, version LIMIT 3);

-- echo: other columns as filters
SELECT count(*) FROM es_stream('s-1') WHERE stream_id = 's-2';
SELECT group_concat(version) FROM es_stream('s-1') WHERE seq > 5;
SELECT group_concat(version) FROM es_stream('s-1') WHERE category = 's';
SELECT group_concat(version) FROM es_stream('s-1') WHERE event_id = 'a4';

-- echo: unknown stream: no rows; NULL argument: no rows
SELECT count(*) FROM es_stream('s-404');
SELECT count(*) FROM es_stream('S-1');
SELECT count(*) FROM es_stream(NULL);
SELECT count(*) FROM es_stream(NULL, 1);

-- echo: a stream id per row of another table (correlated argument)
WITH ids(id) AS (VALUES ('s-1'), ('s-2'), ('s-404'))
SELECT ids.id, e.version, e.type FROM ids, es_stream(ids.id) AS e WHERE e.version = 1
ORDER BY ids.id;
WITH ids(id) AS (VALUES ('s-1'), ('s-2'))
SELECT ids.id, (SELECT max(version) FROM es_stream(ids.id)) FROM ids ORDER BY ids.id;
-- echo: two cursors on the same stream at once
SELECT count(*) FROM es_stream('s-1') a, es_stream('s-1') b WHERE a.version < b.version;

-- echo: argument errors
SELECT * FROM es_stream();
SELECT * FROM es_stream;
SELECT * FROM es_stream WHERE from_version = 1;
SELECT * FROM es_stream('');
SELECT * FROM es_stream(1);
SELECT * FROM es_stream(x'732d31');
SELECT * FROM es_stream(printf('%.*c', 1025, 'x'));
SELECT * FROM es_stream('s-1', 1, 2);
