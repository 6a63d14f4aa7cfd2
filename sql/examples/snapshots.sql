-- Tour 5: snapshots. Save a stream's folded state at a version, load it back with only the
-- events after it, replace it when the state's schema changes, invalidate it.
-- Run from the repository root after building:  sqlite3 < sql/examples/snapshots.sql
-- (it writes tour-snapshots.db in the current directory).
.open --new tour-snapshots.db
.load ./build/ext/eskit
.mode box

SELECT es_append('order-1', 0, '[{"type": "OrderPlaced", "data": {}},
  {"type": "ItemAdded", "data": {"sku": "A-1", "qty": 2}},
  {"type": "ItemAdded", "data": {"sku": "B-7", "qty": 1}}]') AS "order-1";

.print '-- the state after version 3, saved with schema version 1 of its shape'
SELECT es_snapshot_save('order-1', 3, '{"items": 3, "paid": false}', 1) AS version;
SELECT stream_id, version, schema_version, codec, state FROM es_snapshots;

.print '-- one more event; loading = the snapshot, then the events after its version'
SELECT es_append('order-1', 3, '{"type": "OrderPaid", "data": {"amount": 2550}}') AS "order-1";
SELECT version, type, data FROM es_stream('order-1',
  (SELECT version + 1 FROM es_snapshots WHERE stream_id = 'order-1'));

.print '-- the state shape changed (schema version 2): a new snapshot replaces the old one'
SELECT es_snapshot_save('order-1', 4, '{"items": 3, "paid": true, "amount": 2550}', 2) AS version;
SELECT version, schema_version, state FROM es_snapshots WHERE stream_id = 'order-1';

.print '-- a snapshot must be of a version the stream has (invalid_argument)'
SELECT es_snapshot_save('order-1', 9, '{}');

.print '-- invalidated: loading replays the whole stream again'
SELECT es_snapshot_invalidate('order-1') AS removed;
SELECT count(*) AS snapshots FROM es_snapshots;
