-- Tour 4: erasure. es_tombstone deletes a stream's events (personal data) and keeps a
-- tombstone, so every later read or append of that id fails; es_delete removes even the
-- tombstone and frees the id. Positions are never reused.
-- Run from the repository root after building:  sqlite3 < sql/examples/tombstone.sql
-- (it writes tour-tombstone.db in the current directory).
.open --new tour-tombstone.db
.load ./build/ext/eskit
.mode box

SELECT es_append('user-5', 0, '[{"type": "UserRegistered", "data": {"email": "ada@example.org"}},
  {"type": "AddressChanged", "data": {"street": "12 Analytical Row"}}]') AS "user-5";
SELECT es_append('user-6', 0, '{"type": "UserRegistered", "data": {"email": "bob@example.org"}}')
  AS "user-6";

.print '-- the erasure request: events removed, the tombstone stays'
SELECT es_tombstone('user-5', 'erasure request #2024-17') AS removed, es_status('user-5') AS status;
SELECT count(*) AS "events left" FROM es_events WHERE stream_id = 'user-5';

.print '-- every later read or append of user-5 is refused (tombstoned)'
SELECT * FROM es_stream('user-5');
SELECT es_append('user-5', -1, '{"type": "UserRegistered", "data": {}}');

.print '-- the head does not move back; other streams are untouched'
SELECT es_head() AS head;
SELECT seq, stream_id, type FROM es_all();

.print '-- for the bytes to leave the disk too: checkpoint the WAL (see README, es_tombstone)'
.print '-- PRAGMA wal_checkpoint(TRUNCATE);'

.print '-- es_delete removes the tombstone as well; the id starts again at version 0'
SELECT es_delete('user-5') AS removed, es_status('user-5') AS status;
SELECT es_append('user-5', 0, '{"type": "UserRegistered", "data": {"email": "new@example.org"}}')
  AS "user-5";
SELECT seq, version, type FROM es_stream('user-5');
