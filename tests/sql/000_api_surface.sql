-- 000_api_surface: every es_* SQL function and module with its arity and trust flags.
-- Any change of the SQL API (a name, an arity, a flag) shows up here as a diff.
-- flags is pragma_function_list's flag word: 0x800 DETERMINISTIC, 0x80000 DIRECTONLY,
-- 0x200000 INNOCUOUS (SQLite 3.40.1; the column only carries these bits and SUBTYPE).

-- echo: functions: name|narg|flags|decoded
SELECT name, narg, flags,
       trim(iif(flags & 0x800, 'DETERMINISTIC ', '') ||
            iif(flags & 0x80000, 'DIRECTONLY ', '') ||
            iif(flags & 0x200000, 'INNOCUOUS ', ''))
FROM pragma_function_list WHERE name LIKE 'es\_%' ESCAPE '\' ORDER BY name, narg;

-- echo: modules
SELECT name FROM pragma_module_list WHERE name LIKE 'es\_%' ESCAPE '\' ORDER BY 1;

-- echo: table-valued function columns (hidden ones last)
SELECT cid, name, type, hidden FROM pragma_table_xinfo('es_stream') ORDER BY cid;
SELECT cid, name, type, hidden FROM pragma_table_xinfo('es_all') ORDER BY cid;

-- echo: es_version and es_debug
SELECT 'api_01', es_version() = '0.1.0';
SELECT 'api_02', es_debug() LIKE 'eskit ' || es_version() || char(10) || '%';

-- echo: registering created nothing
SELECT 'api_03', count(*) = 0 FROM sqlite_schema;

-- echo: trust flags at work: with trusted_schema off, readers still work in views stored in
-- echo: the database file, while writers are refused in any view or trigger of the file
PRAGMA trusted_schema = OFF;
CREATE VIEW v_read AS
    SELECT es_head() AS head, es_status('a-1') AS status, es_version() AS version,
           (SELECT count(*) FROM es_all) AS all_rows,
           (SELECT count(*) FROM es_stream('a-1')) AS stream_rows;
SELECT * FROM v_read;
CREATE VIEW v_append AS SELECT es_append('a-1', NULL, '{"type":"A","data":1}');
SELECT * FROM v_append;
CREATE VIEW v_init AS SELECT es_init();
SELECT * FROM v_init;
CREATE TABLE t(x);
CREATE TRIGGER t_append AFTER INSERT ON t
BEGIN SELECT es_append('a-1', NULL, '{"type":"A","data":1}'); END;
INSERT INTO t VALUES (1);
SELECT 'api_04', count(*) = 0 FROM t;
SELECT 'api_05', count(*) = 0 FROM sqlite_schema WHERE name LIKE 'es\_%' ESCAPE '\';

-- echo: arity errors come from SQLite
SELECT es_append('a-1', 0);
SELECT es_append('a-1', 0, '[]', '{}', 5);
SELECT es_head(1);
SELECT es_status();
SELECT es_init(1);
SELECT * FROM es_all(1, 2);
SELECT * FROM es_stream('a-1', 1, 2);
