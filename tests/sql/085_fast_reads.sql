-- db: file
-- 085_fast_reads: the documented read fast path (README "Reading fast"): plain SQL on es_events
-- with the stream's state checked once per statement by es_readable(stream_id), which answers 1
-- or raises the error es_stream raises; and es_category(), the category rule as a function.
CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
SELECT es_append('order-1', 0, '[{"type":"Placed","data":1},{"type":"Paid","data":2}]');
SELECT es_append('order-2', 0, '{"type":"Placed","data":3}');
SELECT es_append('gone-1', 0, '{"type":"Secret","data":4}');
SELECT es_tombstone('gone-1', 'gdpr');
SELECT es_append('cold-1', 0, '{"type":"Old","data":5}');
ATTACH (SELECT path FROM temp.dir) || '-cold' AS cold;
SELECT es_archive('cold-1', 'cold');
SELECT es_append('quiet-1', 0, '{"type":"Q","data":6}');
SELECT es_archive('quiet-1');

-- echo: active, archived in place and unknown streams are readable (an unknown one has no rows)
SELECT es_readable('order-1'), es_readable('quiet-1'), es_readable('nobody-1');
SELECT version, data FROM es_events WHERE stream_id = 'order-1' AND es_readable('order-1')
ORDER BY version;
SELECT count(*) FROM es_events WHERE stream_id = 'nobody-1' AND es_readable('nobody-1');
-- echo: a tombstoned or moved stream raises es_stream's error
SELECT version FROM es_events WHERE stream_id = 'gone-1' AND es_readable('gone-1');
SELECT version FROM es_events WHERE stream_id = 'cold-1' AND es_readable('cold-1');
SELECT * FROM es_stream('cold-1');
-- echo: NULL is readable (no rows); bad arguments are refused like es_stream's
SELECT es_readable(NULL);
SELECT es_readable('');
SELECT es_readable(7);
-- echo: not usable in a view, index or trigger of the database file
CREATE VIEW v AS SELECT es_readable('order-1');
SELECT * FROM v;
DROP VIEW v;
CREATE INDEX bad ON es_events(es_readable(stream_id));

-- echo: es_category: the part before the first '-', or the whole id
SELECT es_category('order-17'), es_category('order'), es_category('a-b-c'), es_category('-x'),
       es_category(NULL);
SELECT es_category('');
