-- db: file
-- hostile_schemas: es_archive/es_restore into ATTACHed databases with hostile names
-- (reliability issue, item 5). Each name is attached, a stream with a snapshot is moved there
-- and back; the rows must come back byte-identical, the archive must hold exactly the eskit
-- objects, and main must be unchanged. Drafted by a small generator over the list of names
-- (SQLite allows 10 attached databases, so most are detached after their round).
-- Schema 3: an archive must be a file that outlives the connection, so each hostile name is
-- an ATTACH alias of a file next to main (plain file names: the hostile part is the alias);
-- an in-memory database under a hostile name is refused with the name quoted.

CREATE TEMP TABLE dir AS SELECT file AS path FROM pragma_database_list WHERE name = 'main';
SELECT es_init();
CREATE TABLE sentinel(x TEXT);
INSERT INTO sentinel VALUES ('untouched');
CREATE TEMP TABLE schema_before AS SELECT type, name, tbl_name, sql FROM main.sqlite_schema;
CREATE TEMP TABLE eskit_objects AS SELECT type, name, tbl_name FROM main.sqlite_schema WHERE name NOT IN ('sentinel');

-- echo: == 1: double quote and semicolon
ATTACH (SELECT path FROM temp.dir) || '-h1' AS "we""ird; DROP";
SELECT count(*) FROM pragma_database_list WHERE name = 'we"ird; DROP';
SELECT es_append('s-1', 0, '[{"type":"A","data":{"n":1},"id":"s-1-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"1"}}'), es_snapshot_save('s-1', 2, '{"n":2}');
CREATE TEMP TABLE before_1 AS SELECT * FROM es_events WHERE stream_id = 's-1';
SELECT es_archive('s-1', 'we"ird; DROP');
SELECT es_status('s-1'), state, archived_to = 'we"ird; DROP', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-1';
SELECT count(*) FROM es_events WHERE stream_id = 's-1';
SELECT count(*) FROM "we""ird; DROP".es_events WHERE stream_id = 's-1';
SELECT count(*) FROM (SELECT * FROM before_1 EXCEPT SELECT * FROM "we""ird; DROP".es_events);
SELECT version, state FROM "we""ird; DROP".es_snapshots WHERE stream_id = 's-1';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "we""ird; DROP".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "we""ird; DROP".sqlite_schema);
SELECT * FROM es_stream('s-1');
SELECT es_append('s-1', -1, '{"type":"C","data":3}');
SELECT es_restore('s-1');
SELECT es_archive('s-1', 'we"ird; DROP');
SELECT es_restore('s-1', 'we"ird; DROP');
SELECT es_status('s-1'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-1';
SELECT (SELECT count(*) FROM (SELECT * FROM before_1 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-1')), (SELECT count(*) FROM es_stream('s-1'));
SELECT count(*) FROM "we""ird; DROP".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-1';
PRAGMA "we""ird; DROP".integrity_check;

-- echo: == 2: single quote
ATTACH (SELECT path FROM temp.dir) || '-h2' AS "it's";
SELECT count(*) FROM pragma_database_list WHERE name = 'it''s';
SELECT es_append('s-2', 0, '[{"type":"A","data":{"n":1},"id":"s-2-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"2"}}'), es_snapshot_save('s-2', 2, '{"n":2}');
CREATE TEMP TABLE before_2 AS SELECT * FROM es_events WHERE stream_id = 's-2';
SELECT es_archive('s-2', 'it''s');
SELECT es_status('s-2'), state, archived_to = 'it''s', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-2';
SELECT count(*) FROM es_events WHERE stream_id = 's-2';
SELECT count(*) FROM "it's".es_events WHERE stream_id = 's-2';
SELECT count(*) FROM (SELECT * FROM before_2 EXCEPT SELECT * FROM "it's".es_events);
SELECT version, state FROM "it's".es_snapshots WHERE stream_id = 's-2';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "it's".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "it's".sqlite_schema);
SELECT es_archive('s-2', 'it''s');
SELECT es_restore('s-2', 'it''s');
SELECT es_status('s-2'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-2';
SELECT (SELECT count(*) FROM (SELECT * FROM before_2 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-2')), (SELECT count(*) FROM es_stream('s-2'));
SELECT count(*) FROM "it's".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-2';
PRAGMA "it's".integrity_check;
DETACH "it's";

-- echo: == 3: identifier injection
ATTACH (SELECT path FROM temp.dir) || '-h3' AS "x""; DROP TABLE main.es_events; --";
SELECT count(*) FROM pragma_database_list WHERE name = 'x"; DROP TABLE main.es_events; --';
SELECT es_append('s-3', 0, '[{"type":"A","data":{"n":1},"id":"s-3-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"3"}}'), es_snapshot_save('s-3', 2, '{"n":2}');
CREATE TEMP TABLE before_3 AS SELECT * FROM es_events WHERE stream_id = 's-3';
SELECT es_archive('s-3', 'x"; DROP TABLE main.es_events; --');
SELECT es_status('s-3'), state, archived_to = 'x"; DROP TABLE main.es_events; --', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-3';
SELECT count(*) FROM es_events WHERE stream_id = 's-3';
SELECT count(*) FROM "x""; DROP TABLE main.es_events; --".es_events WHERE stream_id = 's-3';
SELECT count(*) FROM (SELECT * FROM before_3 EXCEPT SELECT * FROM "x""; DROP TABLE main.es_events; --".es_events);
SELECT version, state FROM "x""; DROP TABLE main.es_events; --".es_snapshots WHERE stream_id = 's-3';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "x""; DROP TABLE main.es_events; --".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "x""; DROP TABLE main.es_events; --".sqlite_schema);
SELECT * FROM es_stream('s-3');
SELECT es_append('s-3', -1, '{"type":"C","data":3}');
SELECT es_restore('s-3');
SELECT es_archive('s-3', 'x"; DROP TABLE main.es_events; --');
SELECT es_restore('s-3', 'x"; DROP TABLE main.es_events; --');
SELECT es_status('s-3'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-3';
SELECT (SELECT count(*) FROM (SELECT * FROM before_3 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-3')), (SELECT count(*) FROM es_stream('s-3'));
SELECT count(*) FROM "x""; DROP TABLE main.es_events; --".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-3';
PRAGMA "x""; DROP TABLE main.es_events; --".integrity_check;

-- echo: == 4: string injection
ATTACH (SELECT path FROM temp.dir) || '-h4' AS "x'); DELETE FROM es_meta; --";
SELECT count(*) FROM pragma_database_list WHERE name = 'x''); DELETE FROM es_meta; --';
SELECT es_append('s-4', 0, '[{"type":"A","data":{"n":1},"id":"s-4-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"4"}}'), es_snapshot_save('s-4', 2, '{"n":2}');
CREATE TEMP TABLE before_4 AS SELECT * FROM es_events WHERE stream_id = 's-4';
SELECT es_archive('s-4', 'x''); DELETE FROM es_meta; --');
SELECT es_status('s-4'), state, archived_to = 'x''); DELETE FROM es_meta; --', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-4';
SELECT count(*) FROM es_events WHERE stream_id = 's-4';
SELECT count(*) FROM "x'); DELETE FROM es_meta; --".es_events WHERE stream_id = 's-4';
SELECT count(*) FROM (SELECT * FROM before_4 EXCEPT SELECT * FROM "x'); DELETE FROM es_meta; --".es_events);
SELECT version, state FROM "x'); DELETE FROM es_meta; --".es_snapshots WHERE stream_id = 's-4';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "x'); DELETE FROM es_meta; --".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "x'); DELETE FROM es_meta; --".sqlite_schema);
SELECT * FROM es_stream('s-4');
SELECT es_append('s-4', -1, '{"type":"C","data":3}');
SELECT es_restore('s-4');
SELECT es_archive('s-4', 'x''); DELETE FROM es_meta; --');
SELECT es_restore('s-4', 'x''); DELETE FROM es_meta; --');
SELECT es_status('s-4'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-4';
SELECT (SELECT count(*) FROM (SELECT * FROM before_4 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-4')), (SELECT count(*) FROM es_stream('s-4'));
SELECT count(*) FROM "x'); DELETE FROM es_meta; --".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-4';
PRAGMA "x'); DELETE FROM es_meta; --".integrity_check;

-- echo: == 5: brackets and backticks
ATTACH (SELECT path FROM temp.dir) || '-h5' AS "a]b`c[d";
SELECT count(*) FROM pragma_database_list WHERE name = 'a]b`c[d';
SELECT es_append('s-5', 0, '[{"type":"A","data":{"n":1},"id":"s-5-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"5"}}'), es_snapshot_save('s-5', 2, '{"n":2}');
CREATE TEMP TABLE before_5 AS SELECT * FROM es_events WHERE stream_id = 's-5';
SELECT es_archive('s-5', 'a]b`c[d');
SELECT es_status('s-5'), state, archived_to = 'a]b`c[d', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-5';
SELECT count(*) FROM es_events WHERE stream_id = 's-5';
SELECT count(*) FROM "a]b`c[d".es_events WHERE stream_id = 's-5';
SELECT count(*) FROM (SELECT * FROM before_5 EXCEPT SELECT * FROM "a]b`c[d".es_events);
SELECT version, state FROM "a]b`c[d".es_snapshots WHERE stream_id = 's-5';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "a]b`c[d".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "a]b`c[d".sqlite_schema);
SELECT es_archive('s-5', 'a]b`c[d');
SELECT es_restore('s-5', 'a]b`c[d');
SELECT es_status('s-5'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-5';
SELECT (SELECT count(*) FROM (SELECT * FROM before_5 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-5')), (SELECT count(*) FROM es_stream('s-5'));
SELECT count(*) FROM "a]b`c[d".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-5';
PRAGMA "a]b`c[d".integrity_check;
DETACH "a]b`c[d";

-- echo: == 6: printf directives
ATTACH (SELECT path FROM temp.dir) || '-h6' AS "%s%n%Q%w%z";
SELECT count(*) FROM pragma_database_list WHERE name = '%s%n%Q%w%z';
SELECT es_append('s-6', 0, '[{"type":"A","data":{"n":1},"id":"s-6-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"6"}}'), es_snapshot_save('s-6', 2, '{"n":2}');
CREATE TEMP TABLE before_6 AS SELECT * FROM es_events WHERE stream_id = 's-6';
SELECT es_archive('s-6', '%s%n%Q%w%z');
SELECT es_status('s-6'), state, archived_to = '%s%n%Q%w%z', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-6';
SELECT count(*) FROM es_events WHERE stream_id = 's-6';
SELECT count(*) FROM "%s%n%Q%w%z".es_events WHERE stream_id = 's-6';
SELECT count(*) FROM (SELECT * FROM before_6 EXCEPT SELECT * FROM "%s%n%Q%w%z".es_events);
SELECT version, state FROM "%s%n%Q%w%z".es_snapshots WHERE stream_id = 's-6';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "%s%n%Q%w%z".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "%s%n%Q%w%z".sqlite_schema);
SELECT * FROM es_stream('s-6');
SELECT es_append('s-6', -1, '{"type":"C","data":3}');
SELECT es_restore('s-6');
SELECT es_archive('s-6', '%s%n%Q%w%z');
SELECT es_restore('s-6', '%s%n%Q%w%z');
SELECT es_status('s-6'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-6';
SELECT (SELECT count(*) FROM (SELECT * FROM before_6 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-6')), (SELECT count(*) FROM es_stream('s-6'));
SELECT count(*) FROM "%s%n%Q%w%z".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-6';
PRAGMA "%s%n%Q%w%z".integrity_check;
DETACH "%s%n%Q%w%z";

-- echo: == 7: backslashes
ATTACH (SELECT path FROM temp.dir) || '-h7' AS "C:\back\slash\";
SELECT count(*) FROM pragma_database_list WHERE name = 'C:\back\slash\';
SELECT es_append('s-7', 0, '[{"type":"A","data":{"n":1},"id":"s-7-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"7"}}'), es_snapshot_save('s-7', 2, '{"n":2}');
CREATE TEMP TABLE before_7 AS SELECT * FROM es_events WHERE stream_id = 's-7';
SELECT es_archive('s-7', 'C:\back\slash\');
SELECT es_status('s-7'), state, archived_to = 'C:\back\slash\', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-7';
SELECT count(*) FROM es_events WHERE stream_id = 's-7';
SELECT count(*) FROM "C:\back\slash\".es_events WHERE stream_id = 's-7';
SELECT count(*) FROM (SELECT * FROM before_7 EXCEPT SELECT * FROM "C:\back\slash\".es_events);
SELECT version, state FROM "C:\back\slash\".es_snapshots WHERE stream_id = 's-7';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "C:\back\slash\".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "C:\back\slash\".sqlite_schema);
SELECT es_archive('s-7', 'C:\back\slash\');
SELECT es_restore('s-7', 'C:\back\slash\');
SELECT es_status('s-7'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-7';
SELECT (SELECT count(*) FROM (SELECT * FROM before_7 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-7')), (SELECT count(*) FROM es_stream('s-7'));
SELECT count(*) FROM "C:\back\slash\".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-7';
PRAGMA "C:\back\slash\".integrity_check;
DETACH "C:\back\slash\";

-- echo: == 8: unicode
ATTACH (SELECT path FROM temp.dir) || '-h8' AS "ünï cødé 🎉";
SELECT count(*) FROM pragma_database_list WHERE name = 'ünï cødé 🎉';
SELECT es_append('s-8', 0, '[{"type":"A","data":{"n":1},"id":"s-8-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"8"}}'), es_snapshot_save('s-8', 2, '{"n":2}');
CREATE TEMP TABLE before_8 AS SELECT * FROM es_events WHERE stream_id = 's-8';
SELECT es_archive('s-8', 'ünï cødé 🎉');
SELECT es_status('s-8'), state, archived_to = 'ünï cødé 🎉', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-8';
SELECT count(*) FROM es_events WHERE stream_id = 's-8';
SELECT count(*) FROM "ünï cødé 🎉".es_events WHERE stream_id = 's-8';
SELECT count(*) FROM (SELECT * FROM before_8 EXCEPT SELECT * FROM "ünï cødé 🎉".es_events);
SELECT version, state FROM "ünï cødé 🎉".es_snapshots WHERE stream_id = 's-8';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "ünï cødé 🎉".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "ünï cødé 🎉".sqlite_schema);
SELECT * FROM es_stream('s-8');
SELECT es_append('s-8', -1, '{"type":"C","data":3}');
SELECT es_restore('s-8');
SELECT es_archive('s-8', 'ünï cødé 🎉');
SELECT es_restore('s-8', 'ünï cødé 🎉');
SELECT es_status('s-8'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-8';
SELECT (SELECT count(*) FROM (SELECT * FROM before_8 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-8')), (SELECT count(*) FROM es_stream('s-8'));
SELECT count(*) FROM "ünï cødé 🎉".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-8';
PRAGMA "ünï cødé 🎉".integrity_check;
DETACH "ünï cødé 🎉";

-- echo: == 9: one space
ATTACH (SELECT path FROM temp.dir) || '-h9' AS " ";
SELECT count(*) FROM pragma_database_list WHERE name = ' ';
SELECT es_append('s-9', 0, '[{"type":"A","data":{"n":1},"id":"s-9-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"9"}}'), es_snapshot_save('s-9', 2, '{"n":2}');
CREATE TEMP TABLE before_9 AS SELECT * FROM es_events WHERE stream_id = 's-9';
SELECT es_archive('s-9', ' ');
SELECT es_status('s-9'), state, archived_to = ' ', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-9';
SELECT count(*) FROM es_events WHERE stream_id = 's-9';
SELECT count(*) FROM " ".es_events WHERE stream_id = 's-9';
SELECT count(*) FROM (SELECT * FROM before_9 EXCEPT SELECT * FROM " ".es_events);
SELECT version, state FROM " ".es_snapshots WHERE stream_id = 's-9';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM " ".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM " ".sqlite_schema);
SELECT es_archive('s-9', ' ');
SELECT es_restore('s-9', ' ');
SELECT es_status('s-9'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-9';
SELECT (SELECT count(*) FROM (SELECT * FROM before_9 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-9')), (SELECT count(*) FROM es_stream('s-9'));
SELECT count(*) FROM " ".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-9';
PRAGMA " ".integrity_check;
DETACH " ";

-- echo: == 10: dotted
ATTACH (SELECT path FROM temp.dir) || '-h10' AS "cold.es_events";
SELECT count(*) FROM pragma_database_list WHERE name = 'cold.es_events';
SELECT es_append('s-10', 0, '[{"type":"A","data":{"n":1},"id":"s-10-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"10"}}'), es_snapshot_save('s-10', 2, '{"n":2}');
CREATE TEMP TABLE before_10 AS SELECT * FROM es_events WHERE stream_id = 's-10';
SELECT es_archive('s-10', 'cold.es_events');
SELECT es_status('s-10'), state, archived_to = 'cold.es_events', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-10';
SELECT count(*) FROM es_events WHERE stream_id = 's-10';
SELECT count(*) FROM "cold.es_events".es_events WHERE stream_id = 's-10';
SELECT count(*) FROM (SELECT * FROM before_10 EXCEPT SELECT * FROM "cold.es_events".es_events);
SELECT version, state FROM "cold.es_events".es_snapshots WHERE stream_id = 's-10';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "cold.es_events".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "cold.es_events".sqlite_schema);
SELECT es_archive('s-10', 'cold.es_events');
SELECT es_restore('s-10', 'cold.es_events');
SELECT es_status('s-10'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-10';
SELECT (SELECT count(*) FROM (SELECT * FROM before_10 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-10')), (SELECT count(*) FROM es_stream('s-10'));
SELECT count(*) FROM "cold.es_events".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-10';
PRAGMA "cold.es_events".integrity_check;
DETACH "cold.es_events";

-- echo: == 11: 1100 bytes
ATTACH (SELECT path FROM temp.dir) || '-h11' AS "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";
SELECT count(*) FROM pragma_database_list WHERE name = 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn';
SELECT es_append('s-11', 0, '[{"type":"A","data":{"n":1},"id":"s-11-a"},{"type":"B","codec":"raw","data":"AAE="}]', '{"timestamp":1000,"metadata":{"m":"11"}}'), es_snapshot_save('s-11', 2, '{"n":2}');
CREATE TEMP TABLE before_11 AS SELECT * FROM es_events WHERE stream_id = 's-11';
SELECT es_archive('s-11', 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn');
SELECT es_status('s-11'), state, archived_to = 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn', length(CAST(archived_to AS BLOB)) FROM es_streams WHERE stream_id = 's-11';
SELECT count(*) FROM es_events WHERE stream_id = 's-11';
SELECT count(*) FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".es_events WHERE stream_id = 's-11';
SELECT count(*) FROM (SELECT * FROM before_11 EXCEPT SELECT * FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".es_events);
SELECT version, state FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".es_snapshots WHERE stream_id = 's-11';
SELECT count(*) FROM (SELECT type, name, tbl_name FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".sqlite_schema EXCEPT SELECT * FROM eskit_objects);
SELECT count(*) FROM (SELECT * FROM eskit_objects EXCEPT SELECT type, name, tbl_name FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".sqlite_schema);
SELECT es_archive('s-11', 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn');
SELECT es_restore('s-11', 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn');
SELECT es_status('s-11'), state, archived_to IS NULL FROM es_streams WHERE stream_id = 's-11';
SELECT (SELECT count(*) FROM (SELECT * FROM before_11 EXCEPT SELECT * FROM es_events WHERE stream_id = 's-11')), (SELECT count(*) FROM es_stream('s-11'));
SELECT count(*) FROM "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".es_events;
SELECT version, state FROM es_snapshots WHERE stream_id = 's-11';
PRAGMA "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn".integrity_check;
DETACH "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";

-- echo: == schema names match case-insensitively (ASCII), archived_to keeps SQLite's spelling
SELECT es_archive('s-1', 'WE"IRD; DROP');
SELECT archived_to = 'we"ird; DROP' FROM es_streams WHERE stream_id = 's-1';
SELECT es_restore('s-1', 'WE"IRD; DROP');
-- echo: == tombstone and delete erase in the hostile archive
SELECT es_archive('s-3', 'x"; DROP TABLE main.es_events; --'), es_archive('s-4', 'x''); DELETE FROM es_meta; --');
SELECT es_tombstone('s-3', 'x''); DELETE FROM es_meta; --');
SELECT (SELECT count(*) FROM "x""; DROP TABLE main.es_events; --".es_events), es_status('s-3'), tombstone_reason = 'x''); DELETE FROM es_meta; --' FROM es_streams WHERE stream_id = 's-3';
SELECT es_delete('s-4');
SELECT (SELECT count(*) FROM "x'); DELETE FROM es_meta; --".es_events), es_status('s-4');
-- echo: == an in-memory database under a hostile name is refused, quoted; nothing is written
ATTACH ':memory:' AS "mem'); DROP TABLE es_events; --";
SELECT es_archive('s-2', 'mem''); DROP TABLE es_events; --');
SELECT es_status('s-2'), count(*) FROM "mem'); DROP TABLE es_events; --".sqlite_schema;
DETACH "mem'); DROP TABLE es_events; --";
-- echo: == names that are not attached are refused, quoted
SELECT es_archive('s-1', 'nope"; DROP TABLE es_events; --');
SELECT es_archive('s-1', 'it''s not');
SELECT es_restore('s-1', '%n%s');
SELECT es_archive('s-1', 'MAIN');
SELECT es_archive('s-1', 'Temp');
SELECT es_archive('s-1', 42);
SELECT es_archive('s-1', 'it''s');
-- echo: == main is unchanged; every attached database is intact
SELECT count(*) FROM (SELECT type, name, tbl_name, sql FROM main.sqlite_schema EXCEPT SELECT * FROM schema_before);
SELECT count(*) FROM (SELECT * FROM schema_before EXCEPT SELECT type, name, tbl_name, sql FROM main.sqlite_schema);
SELECT * FROM sentinel;
SELECT stream_id, version, state, archived_to FROM es_streams ORDER BY stream_id;
SELECT count(*), count(DISTINCT stream_id) FROM es_events;
PRAGMA "we""ird; DROP".integrity_check;
DETACH "we""ird; DROP";
PRAGMA "x""; DROP TABLE main.es_events; --".integrity_check;
DETACH "x""; DROP TABLE main.es_events; --";
PRAGMA "x'); DELETE FROM es_meta; --".integrity_check;
DETACH "x'); DELETE FROM es_meta; --";
PRAGMA main.integrity_check;
SELECT name FROM pragma_database_list ORDER BY seq;
