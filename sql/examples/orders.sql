-- Tour 1: orders. Appends with an expected version, an idempotent retry, a refused stale
-- writer, and the ways to read: one stream, backwards, by type, by category, by JSON field.
-- Run from the repository root after building:  sqlite3 < sql/examples/orders.sql
-- (it writes tour-orders.db in the current directory).
.open --new tour-orders.db
.load ./build/ext/eskit
.mode box

.print '-- a new order: expected version 0 (the stream has no events); returns the version reached'
SELECT es_append('order-17', 0, '[
  {"type": "OrderPlaced", "data": {"customer": "cust-42"}},
  {"type": "ItemAdded",   "data": {"sku": "A-1", "qty": 2, "price": 1000}},
  {"type": "ItemAdded",   "data": {"sku": "B-7", "qty": 1, "price": 550}}
]') AS version;

.print '-- payment, with an idempotency key: a client that retries after a lost reply...'
SELECT es_append('order-17', 3, '{"type": "OrderPaid", "data": {"amount": 2550}}',
                 '{"idempotency_key": "pay-17-1"}') AS version;
.print '-- ...gets the same answer, and nothing is written twice'
SELECT es_append('order-17', 3, '{"type": "OrderPaid", "data": {"amount": 2550}}',
                 '{"idempotency_key": "pay-17-1"}') AS version;

.print '-- a writer that still believes order-17 is at version 3 is refused (conflict)'
SELECT es_append('order-17', 3, '{"type": "OrderCancelled", "data": {}}');

.print '-- another order, and a customer stream (another category)'
SELECT es_append('order-18', 0, '[{"type": "OrderPlaced", "data": {"customer": "cust-7"}},
  {"type": "ItemAdded", "data": {"sku": "A-1", "qty": 5, "price": 1000}}]') AS "order-18";
SELECT es_append('customer-42', 0, '{"type": "CustomerRegistered", "data": {"name": "Ada"}}')
  AS "customer-42";

.print '-- the stream order-17, in version order'
SELECT version, type, data FROM es_stream('order-17');

.print '-- its last event: read backwards, one index seek'
SELECT version, type FROM es_stream('order-17') ORDER BY version DESC LIMIT 1;

.print '-- the global log of one category, in commit order'
SELECT seq, stream_id, version, type FROM es_all() WHERE category = 'order';

.print '-- a query over the payloads: the value of each order'
SELECT stream_id AS "order", sum(json_extract(data, '$.qty') * json_extract(data, '$.price')) AS value
  FROM es_all() WHERE type = 'ItemAdded' GROUP BY stream_id ORDER BY stream_id;

.print '-- heads and states'
SELECT es_head() AS head, es_status('order-17') AS "order-17", es_status('order-99') AS "order-99";
