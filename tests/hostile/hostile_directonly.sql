-- hostile_directonly: eskit's writers are SQLITE_DIRECTONLY, its readers SQLITE_INNOCUOUS
-- (reliability issue, item 5). A database file from an untrusted source can hold views,
-- triggers, CHECK constraints and generated columns that call eskit functions (SQLite resolves
-- function names only when such an object is used, not when it is created). Using any of them
-- that calls a writer must be refused with "unsafe use of es_...()" and change nothing, with
-- trusted_schema on (the default) and off; readers (es_head, es_status, es_checkpoint(c),
-- es_version, es_debug, es_stream, es_all) keep working in views even with trusted_schema=OFF.
-- test_hostile_trust.py does the same with a file written by a client that never loaded eskit.
-- db: file

SELECT es_append('s-1', 0, '[{"type":"A","data":1},{"type":"B","data":2}]', '{"timestamp":1000}');
SELECT es_checkpoint('c', 1);
SELECT es_snapshot_save('s-1', 1, '{"n":1}');
CREATE TABLE victim(x);

-- echo: == the hostile schema: one view per writer
CREATE VIEW v_append AS SELECT es_append('s-1', -1, '{"type":"Evil","data":1}') AS r;
CREATE VIEW v_tombstone AS SELECT es_tombstone('s-1', 'evil') AS r;
CREATE VIEW v_delete AS SELECT es_delete('s-1') AS r;
CREATE VIEW v_init AS SELECT es_init() AS r;
CREATE VIEW v_checkpoint2 AS SELECT es_checkpoint('c', 99) AS r;
CREATE VIEW v_checkpoint3 AS SELECT es_checkpoint('c', 1, 99) AS r;
CREATE VIEW v_snapshot_save AS SELECT es_snapshot_save('s-1', 2, '{"evil":1}') AS r;
CREATE VIEW v_snapshot_invalidate AS SELECT es_snapshot_invalidate(NULL) AS r;
CREATE VIEW v_archive AS SELECT es_archive('s-1') AS r;
CREATE VIEW v_archive2 AS SELECT es_archive('s-1', 'cold') AS r;
CREATE VIEW v_restore AS SELECT es_restore('s-1') AS r;
CREATE VIEW v_wait AS SELECT es_wait(1000000, 3000) AS r;
CREATE VIEW v_nested AS SELECT r FROM v_append;
CREATE VIEW v_subquery AS SELECT (SELECT es_delete('s-1')) AS r;
-- echo: == and one trigger per writer, each on its own table
CREATE TABLE t_append(x);
CREATE TRIGGER tr_append AFTER INSERT ON t_append BEGIN SELECT es_append('s-1', -1, '{"type":"Evil","data":1}'); END;
CREATE TABLE t_tombstone(x);
CREATE TRIGGER tr_tombstone BEFORE INSERT ON t_tombstone BEGIN SELECT es_tombstone('s-1', 'evil'); END;
CREATE TABLE t_delete(x);
CREATE TRIGGER tr_delete AFTER INSERT ON t_delete BEGIN SELECT es_delete('s-1'); END;
CREATE TABLE t_init(x);
CREATE TRIGGER tr_init AFTER INSERT ON t_init BEGIN SELECT es_init(); END;
CREATE TABLE t_checkpoint(x);
CREATE TRIGGER tr_checkpoint AFTER INSERT ON t_checkpoint BEGIN SELECT es_checkpoint('c', 99); END;
CREATE TABLE t_snapshot(x);
CREATE TRIGGER tr_snapshot AFTER INSERT ON t_snapshot BEGIN SELECT es_snapshot_save('s-1', 2, '{"evil":1}'); END;
CREATE TABLE t_archive(x);
CREATE TRIGGER tr_archive AFTER INSERT ON t_archive BEGIN SELECT es_archive('s-1'); END;
CREATE TABLE t_wait(x);
CREATE TRIGGER tr_wait AFTER INSERT ON t_wait BEGIN SELECT es_wait(1000000, 3000); END;
CREATE TABLE t_update(x);
INSERT INTO t_update VALUES (1);
CREATE TRIGGER tr_update AFTER UPDATE ON t_update BEGIN SELECT es_delete('s-1'); END;
-- echo: == a CHECK constraint and a DEFAULT (generated columns and index expressions refuse
-- echo: non-deterministic functions at CREATE). SQLite 3.40 does not apply DIRECTONLY to CHECK
-- echo: constraints: eskit's own guard refuses the writer there (test_hostile_trust.py: es_wait)
CREATE TABLE t_check(x CHECK (es_append('s-1', -1, '{"type":"Evil","data":1}') > 0));
CREATE TABLE t_default(x, y DEFAULT (es_tombstone('s-1', 'evil')));
CREATE TABLE t_generated(x, y AS (es_tombstone('s-1', 'evil')));
-- echo: == triggers on eskit's own plain tables
CREATE TRIGGER tr_on_checkpoints AFTER UPDATE ON es_checkpoints BEGIN SELECT es_append('s-1', -1, '{"type":"Evil","data":1}'); END;
CREATE TRIGGER tr_on_snapshots AFTER INSERT ON es_snapshots BEGIN SELECT es_delete('s-1'); END;
-- echo: == views of readers
CREATE VIEW v_read AS SELECT es_head() AS head, es_status('s-1') AS status, es_checkpoint('c') AS cp,
  es_version() AS version, length(es_debug()) > 0 AS debug;
CREATE VIEW v_stream AS SELECT seq, version, type FROM es_stream('s-1');
CREATE VIEW v_all AS SELECT seq, stream_id, type FROM es_all() WHERE category = 's';
CREATE TABLE t_reader(x);
CREATE TRIGGER tr_reader AFTER INSERT ON t_reader BEGIN
  INSERT INTO victim SELECT es_head() || ':' || es_status('s-1') || ':' || es_checkpoint('c') || ':'
    || (SELECT count(*) FROM es_all()) || ':' || (SELECT group_concat(type) FROM es_stream('s-1'));
END;
CREATE TEMP TABLE rows_before AS
  SELECT 'e' AS t, seq AS a, stream_id AS b, type AS c FROM es_events
  UNION ALL SELECT 's', version, stream_id, state FROM es_streams
  UNION ALL SELECT 'c', seq, consumer, NULL FROM es_checkpoints
  UNION ALL SELECT 'n', version, stream_id, state FROM es_snapshots;
SELECT * FROM rows_before ORDER BY t, a;

-- echo: == trusted_schema at its default (on): every writer is refused
PRAGMA trusted_schema;
SELECT * FROM v_append;
SELECT * FROM v_tombstone;
SELECT * FROM v_delete;
SELECT * FROM v_init;
SELECT * FROM v_checkpoint2;
SELECT * FROM v_checkpoint3;
SELECT * FROM v_snapshot_save;
SELECT * FROM v_snapshot_invalidate;
SELECT * FROM v_archive;
SELECT * FROM v_archive2;
SELECT * FROM v_restore;
SELECT * FROM v_wait;
SELECT * FROM v_nested;
SELECT * FROM v_subquery;
SELECT count(*) FROM v_append;
SELECT 1 FROM v_delete WHERE 0;
SELECT * FROM victim WHERE x IN (SELECT r FROM v_tombstone);
INSERT INTO t_append VALUES (1);
INSERT INTO t_tombstone VALUES (1);
INSERT INTO t_delete VALUES (1);
INSERT INTO t_init VALUES (1);
INSERT INTO t_checkpoint VALUES (1);
INSERT INTO t_snapshot VALUES (1);
INSERT INTO t_archive VALUES (1);
INSERT INTO t_wait VALUES (1);
UPDATE t_update SET x = 2;
INSERT INTO t_check VALUES (1);
INSERT INTO t_default(x) VALUES (1);
-- echo: a direct call that writes a table with a hostile trigger fails with the trigger's error
SELECT es_checkpoint('c', 2);
SELECT es_snapshot_save('s-1', 2, '{"n":2}');
SELECT es_checkpoint('c'), (SELECT version FROM es_snapshots WHERE stream_id = 's-1');
-- echo: readers work in views and triggers
SELECT * FROM v_read;
SELECT * FROM v_stream;
SELECT * FROM v_all;
INSERT INTO t_reader VALUES (1);
SELECT * FROM victim;
SELECT count(*) FROM t_append;
SELECT count(*) FROM t_tombstone;
SELECT count(*) FROM t_check;
SELECT count(*) FROM t_default;
SELECT x FROM t_update;

-- echo: == trusted_schema=OFF: writers still refused, readers still work
PRAGMA trusted_schema = OFF;
PRAGMA trusted_schema;
SELECT * FROM v_append;
SELECT * FROM v_tombstone;
SELECT * FROM v_delete;
SELECT * FROM v_init;
SELECT * FROM v_checkpoint2;
SELECT * FROM v_checkpoint3;
SELECT * FROM v_snapshot_save;
SELECT * FROM v_snapshot_invalidate;
SELECT * FROM v_archive;
SELECT * FROM v_archive2;
SELECT * FROM v_restore;
SELECT * FROM v_wait;
SELECT * FROM v_nested;
INSERT INTO t_append VALUES (1);
INSERT INTO t_tombstone VALUES (1);
INSERT INTO t_delete VALUES (1);
INSERT INTO t_init VALUES (1);
INSERT INTO t_checkpoint VALUES (1);
INSERT INTO t_snapshot VALUES (1);
INSERT INTO t_archive VALUES (1);
INSERT INTO t_wait VALUES (1);
UPDATE t_update SET x = 2;
INSERT INTO t_check VALUES (1);
INSERT INTO t_default(x) VALUES (1);
SELECT es_checkpoint('c', 2);
SELECT * FROM v_read;
SELECT * FROM v_stream;
SELECT * FROM v_all;
INSERT INTO t_reader VALUES (2);
SELECT * FROM victim;

-- echo: == nothing changed
SELECT count(*) FROM (
  SELECT 'e' AS t, seq AS a, stream_id AS b, type AS c FROM es_events
  UNION ALL SELECT 's', version, stream_id, state FROM es_streams
  UNION ALL SELECT 'c', seq, consumer, NULL FROM es_checkpoints
  UNION ALL SELECT 'n', version, stream_id, state FROM es_snapshots
  EXCEPT SELECT * FROM rows_before);
SELECT count(*) FROM (SELECT * FROM rows_before EXCEPT SELECT * FROM (
  SELECT 'e' AS t, seq AS a, stream_id AS b, type AS c FROM es_events
  UNION ALL SELECT 's', version, stream_id, state FROM es_streams
  UNION ALL SELECT 'c', seq, consumer, NULL FROM es_checkpoints
  UNION ALL SELECT 'n', version, stream_id, state FROM es_snapshots));
SELECT es_head(), es_status('s-1'), es_checkpoint('c');
PRAGMA integrity_check;

-- echo: == the connection's own SQL: top-level calls and TEMP views work; TEMP triggers are
-- echo: refused by eskit's guard against writing statements
DROP TRIGGER tr_on_checkpoints;
DROP TRIGGER tr_on_snapshots;
SELECT es_checkpoint('c', 2);
CREATE TEMP VIEW tv_append AS SELECT es_append('s-1', 2, '{"type":"Own","data":3}') AS r;
SELECT * FROM tv_append;
CREATE TEMP TRIGGER ttr AFTER INSERT ON main.t_reader BEGIN SELECT es_checkpoint('c', 3); END;
INSERT INTO t_reader VALUES (3);
SELECT es_head(), es_status('s-1'), es_checkpoint('c');
