-- The eskit demo: an event store in a local file, driven from the sqlite3 shell.
-- Run from the repository root after building: sqlite3 demo.db < sql/examples/demo.sql
.load ./build/ext/eskit
.mode box
.output /dev/null
PRAGMA journal_mode = WAL;
.output stdout
.print '-- es_init() creates the tables and returns the schema version'
SELECT es_version() AS version, es_init() AS schema_version;

.print '-- three appends to two streams; each returns the stream version it reached'
SELECT es_append('order-17', 0, '[
  {"type": "OrderPlaced", "data": {"customer": "cust-42", "total": 25.49}},
  {"type": "ItemAdded",   "data": {"sku": "A-1", "qty": 2}}
]') AS "order-17";
SELECT es_append('order-18', 0,
  '{"type": "OrderPlaced", "data": {"customer": "cust-7", "total": 5.5}}',
  '{"metadata": {"user": "alice"}, "idempotency_key": "checkout-7"}') AS "order-18";
SELECT es_append('order-17', 2, '{"type": "OrderPaid", "data": {"amount": 25.49}}') AS "order-17";

.print '-- a writer that still believes order-17 is at version 2 is refused'
SELECT es_append('order-17', 2, '{"type": "OrderCancelled", "data": {}}');

.print '-- the retry of checkout-7 is answered from the store, nothing is written twice'
SELECT es_append('order-18', 0,
  '{"type": "OrderPlaced", "data": {"customer": "cust-7", "total": 5.5}}',
  '{"idempotency_key": "checkout-7"}') AS "order-18";

.print '-- the stream order-17'
SELECT version, type, data FROM es_stream('order-17');

.print '-- the global log, in commit order'
SELECT seq, stream_id, version, type, data, metadata FROM es_all();

.print '-- heads and states'
SELECT es_head() AS head, es_status('order-17') AS "order-17", es_status('order-99') AS "order-99";
