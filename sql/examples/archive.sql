-- Tour 3: archive. In place (readable, no more appends), then into a cold file: the events
-- move to an attached database with their positions, ids and timestamps, and es_restore
-- brings them back.
-- Run from the repository root after building:  sqlite3 < sql/examples/archive.sql
-- (it writes tour-archive.db and tour-archive-cold.db in the current directory).
.open --new tour-archive-cold.db
.open --new tour-archive.db
.load ./build/ext/eskit
.mode box
ATTACH 'tour-archive-cold.db' AS cold;

SELECT es_append('order-1', 0, '[{"type": "OrderPlaced", "data": {}},
  {"type": "ItemAdded", "data": {"sku": "A-1", "qty": 2}},
  {"type": "OrderShipped", "data": {}}]') AS "order-1";
SELECT es_append('order-2', 0, '{"type": "OrderPlaced", "data": {}}') AS "order-2";

.print '-- archived in place: still readable, appends refused (archived)'
SELECT es_archive('order-2') AS archived, es_status('order-2') AS status;
SELECT version, type FROM es_stream('order-2');
SELECT es_append('order-2', 1, '{"type": "ItemAdded", "data": {}}');
SELECT es_restore('order-2') AS restored, es_status('order-2') AS status;

.print '-- into the cold file: the events leave main'
SELECT es_archive('order-1', 'cold') AS moved;
SELECT count(*) AS "events in main" FROM es_events WHERE stream_id = 'order-1';
SELECT seq, stream_id, version, type FROM cold.es_events ORDER BY seq;
.print '-- reading the stream in main names where it went'
SELECT version, type FROM es_stream('order-1');
SELECT es_status('order-1') AS status;

.print '-- restored: the events come back with their original positions'
SELECT es_restore('order-1', 'cold') AS moved;
SELECT seq, version, type FROM es_stream('order-1');
SELECT count(*) AS "events in cold" FROM cold.es_events;
SELECT es_append('order-1', 3, '{"type": "OrderDelivered", "data": {}}') AS "order-1";
