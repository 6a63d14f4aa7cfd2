-- 140_wait_sql: es_wait(after_seq, timeout_ms) within one connection (SPEC section 3, README
-- "es_wait"): argument errors, immediate returns when the head is already past after_seq or the
-- timeout is 0, a short timeout that passes, and the refusal inside a transaction. Waiting for
-- commits of other processes is tested by the clients suite.

-- echo: empty store: the head is 0; a zero timeout returns at once; nothing is created
SELECT es_wait(0, 0);
SELECT es_wait(-1, 0);
SELECT es_wait(-1, 1000);
SELECT 'wait_01', count(*) = 0 FROM sqlite_schema;

-- echo: the head already exceeds after_seq: returns the head at once (even with a long timeout)
SELECT es_append('order-1', 0, '[{"type":"A","data":1},{"type":"B","data":2},{"type":"C","data":3}]');
SELECT es_wait(0, 60000);
SELECT es_wait(2, 60000);
SELECT es_wait(-5, 60000);
-- echo: es_wait(head, 0) returns the head
SELECT es_wait(es_head(), 0);
SELECT es_wait(3, 0);
SELECT es_wait(100, 0);
-- echo: nothing arrives within the timeout: returns the head it saw
SELECT es_wait(3, 30);
-- echo: the head never goes backwards: deleting the newest events does not change it
SELECT es_delete('order-1');
SELECT es_wait(2, 0), es_wait(3, 0), es_head();
-- echo: the next append gets seq 4
SELECT es_append('order-2', 0, '{"type":"A","data":1}');
SELECT es_wait(3, 0), es_wait(3, 60000);

-- echo: invalid arguments: after_seq must be an integer, timeout_ms an integer >= 0
SELECT es_wait(NULL, 0);
SELECT es_wait('3', 0);
SELECT es_wait(1.5, 0);
SELECT es_wait(x'03', 0);
SELECT es_wait(0, -1);
SELECT es_wait(0, NULL);
SELECT es_wait(0, '10');
SELECT es_wait(0, 2.5);
SELECT es_wait(0, x'0a');
-- echo: arity errors come from SQLite
SELECT es_wait(0);
SELECT es_wait();
SELECT es_wait(0, 0, 0);

-- echo: an in-memory database has no file to watch: refused inside a transaction (its snapshot
-- echo: would never show new commits; file databases are watched through a connection of their own)
BEGIN;
SELECT es_wait(0, 0);
SELECT es_wait(10, 100);
SELECT es_head();
COMMIT;
BEGIN IMMEDIATE;
SELECT es_wait(10, 100);
ROLLBACK;
SAVEPOINT sp;
SELECT es_wait(10, 100);
RELEASE sp;
-- echo: ... and inside a statement that reads tables
SELECT es_wait(10, 100) FROM es_streams;
SELECT es_wait(0, 0) FROM es_events;
SELECT (SELECT count(*) FROM es_events), es_wait(0, 0);
SELECT es_wait(0, 0) WHERE EXISTS (SELECT 1 FROM es_streams);
-- echo: a statement that reads no table is fine
SELECT es_wait(0, 0) FROM (SELECT 1 UNION ALL SELECT 2);
-- echo: outside a transaction it works again
SELECT es_wait(0, 0);
