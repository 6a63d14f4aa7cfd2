-- OR in the WHERE clause. SQLite may answer `a OR b` with one plan per branch, concatenated;
-- for es_all that would break seq order (and a page read with LIMIT would skip events), and
-- the branches of an es_stream query lack the stream argument. The tables make such plans
-- lose, so SQLite scans once and evaluates the OR itself.
SELECT es_append('a-1', 0, '[{"type":"A","data":1},{"type":"B","data":2},{"type":"A","data":3}]');
SELECT es_append('u-1', 0, '{"type":"C","data":4}');
SELECT es_append('a-1', 3, '{"type":"A","data":5}');
SELECT es_append('b-1', 0, '{"type":"B","data":6}');
-- echo: es_stream: OR on version, on type, and mixed
SELECT group_concat(version) FROM es_stream('a-1') WHERE version = 1 OR version = 3;
SELECT group_concat(version) FROM es_stream('a-1') WHERE type = 'A' OR type = 'B';
SELECT group_concat(version) FROM es_stream('a-1') WHERE version = 1 OR type = 'B';
SELECT group_concat(version) FROM (SELECT version FROM es_stream('a-1')
  WHERE version = 4 OR type = 'B' ORDER BY version DESC LIMIT 1);
-- echo: es_all: OR across columns stays in seq order, with and without LIMIT
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE type = 'A' OR category = 'u');
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE type = 'A' OR category = 'u' LIMIT 3);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all(2) WHERE type = 'A' OR stream_id = 'b-1'
  LIMIT 2);
SELECT group_concat(seq) FROM (SELECT seq FROM es_all WHERE seq = 6 OR type = 'C');
-- echo: paging with an OR filter sees every matching event once
WITH RECURSIVE pages(after, got) AS (
  SELECT 0, ''
  UNION ALL
  SELECT (SELECT max(seq) FROM (SELECT seq FROM es_all(pages.after)
            WHERE type = 'A' OR category = 'b' LIMIT 2)),
         (SELECT group_concat(seq) FROM (SELECT seq FROM es_all(pages.after)
            WHERE type = 'A' OR category = 'b' LIMIT 2))
  FROM pages WHERE after IS NOT NULL LIMIT 10)
SELECT group_concat(got, ';') FROM pages WHERE got <> '';
-- echo: the plans: one scan, the OR left to SQLite (no LIMIT pushed)
EXPLAIN QUERY PLAN SELECT seq FROM es_all WHERE type = 'A' OR category = 'u' LIMIT 3;
EXPLAIN QUERY PLAN SELECT version FROM es_stream('a-1') WHERE version = 1 OR version = 3;
-- echo: es_stream with no stream argument at all is still an error
SELECT count(*) FROM es_stream WHERE version = 1 OR version = 3;
