-- hostile_names: hostile text in every text argument of eskit (reliability issue, item 5).
--
-- Each value either round-trips byte-identically (checked with = against the value itself,
-- never by printing it) or is refused with invalid_argument (SQLITE_TOOBIG when oversized).
-- Error messages quote ids with %Q, so a ' inside an id appears doubled there. At the end the
-- schema, the temp schema and every row written before the refusals are shown to be unchanged.
-- db: file

-- echo: == setup: the hostile values (k, name, v); v is never printed directly
SELECT es_init();
CREATE TABLE sentinel(x TEXT);
INSERT INTO sentinel VALUES ('untouched');
CREATE TABLE h(k INTEGER PRIMARY KEY, name TEXT NOT NULL, v TEXT NOT NULL);
INSERT INTO h VALUES
  (1, 'single quote', 'it''s'),
  (2, 'double quote', 'say "hi"'),
  (3, 'injection', '''); DROP TABLE es_events; --'),
  (4, 'identifier chars', '"]`x`[' || '"'),
  (5, 'printf directives', '%s%n%Q%q%w%z%.*c%99999999d%'),
  (6, 'backslashes', 'C:\temp\new\\x00\'),
  (7, 'unicode', 'ünï-cødé ✓ 🎉 ' || char(8238) || 'rtl'),
  (8, 'exactly 1024 bytes', replace(hex(zeroblob(512)), '0', 'x')),
  (9, 'control chars', 'a' || char(10) || 'b' || char(9) || char(13) || char(1) || 'c'),
  (10, 'json and paths', '{"type":"X","data":1}$.a[0]'),
  (11, 'sql comment', '/* ; */ -- ;' || char(10) || 'SELECT 1;'),
  (12, 'unicode 1024 bytes', replace(hex(zeroblob(512)), '00', 'ä'));
SELECT k, name, length(CAST(v AS BLOB)) FROM h ORDER BY k;
CREATE TEMP TABLE schema_before AS SELECT type, name, tbl_name, sql FROM main.sqlite_schema;

-- echo: == stream ids: append, read back through es_stream, es_all, es_streams, es_status
SELECT k, es_append(v, 0, json_object('type', 'T', 'data', json_object('v', v))) FROM h ORDER BY k;
SELECT h.k, e.stream_id = h.v, json_extract(e.data, '$.v') = h.v, e.version,
       e.category = CASE WHEN instr(h.v, '-') > 0 THEN substr(h.v, 1, instr(h.v, '-') - 1) ELSE h.v END
  FROM h, es_stream(h.v) e ORDER BY h.k;
SELECT h.k, e.seq, e.stream_id = h.v FROM h JOIN es_all() e ON e.stream_id = h.v ORDER BY h.k;
SELECT h.k, (SELECT count(*) FROM es_all() WHERE stream_id = h.v) FROM h ORDER BY h.k;
-- (es_streams is a view since schema 3 and es_events has no category column: the view's and
-- es_category()'s category are the id's prefix, as es_stream's is above)
SELECT h.k, s.version, s.state, s.category = es_category(h.v),
       es_category(h.v) = CASE WHEN instr(h.v, '-') > 0 THEN substr(h.v, 1, instr(h.v, '-') - 1) ELSE h.v END
  FROM h JOIN es_streams s ON s.stream_id = h.v ORDER BY h.k;
SELECT k, es_status(v), es_head() FROM h ORDER BY k;
-- echo: a conflict names the id; %Q doubles a quote, nothing else is interpreted
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 1;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 2;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 3;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 4;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 5;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 6;
SELECT es_append(v, 0, '{"type":"T","data":1}') FROM h WHERE k = 7;
SELECT es_append(v, -2, '[]'), es_append(v, 1, '[]') FROM h WHERE k = 8;
SELECT es_append(v, 0, '{"type":"T","data":1}') = 0 FROM h WHERE k = 8;
SELECT es_append('%s%n', '%n%s', '[]');
SELECT es_append('%s%n', 0, '%s%n');
SELECT es_append('%s%n', 0, '[]', '{"%n":1}');

-- echo: == event types, in one batch; type pushdown in es_stream and es_all
SELECT es_append('types', 0, (SELECT json_group_array(json_object('type', v, 'data', k)) FROM (SELECT * FROM h ORDER BY k)));
SELECT h.k, e.type = h.v, e.data FROM h JOIN es_stream('types') e ON e.version = h.k ORDER BY h.k;
SELECT h.k, (SELECT count(*) FROM es_stream('types') WHERE type = h.v),
       (SELECT count(*) FROM es_all() WHERE type = h.v AND stream_id = 'types'),
       (SELECT count(*) FROM es_all() WHERE type IN (h.v, 'nope') AND category = 'types') FROM h ORDER BY h.k;

-- echo: == event ids; an exact replay; reuse elsewhere names the id
SELECT es_append('ids', 0, (SELECT json_group_array(json_object('type', 'T', 'data', k, 'id', v)) FROM (SELECT * FROM h ORDER BY k)));
SELECT h.k, e.event_id = h.v FROM h JOIN es_stream('ids') e ON e.version = h.k ORDER BY h.k;
SELECT es_append('ids', 0, (SELECT json_group_array(json_object('type', 'T', 'data', k, 'id', v)) FROM (SELECT * FROM h ORDER BY k)));
SELECT es_append('ids-other', 0, json_object('type', 'T', 'data', 3, 'id', v)) FROM h WHERE k = 3;
SELECT es_append('ids-other', 0, json_object('type', 'T', 'data', 5, 'id', v)) FROM h WHERE k = 5;
SELECT es_append('ids-other', 0, json_array(json_object('type', 'T', 'data', 1, 'id', v), json_object('type', 'T', 'data', 1, 'id', v))) FROM h WHERE k = 4;

-- echo: == codecs (data is base64 of 00 01 ff)
SELECT es_append('codecs', 0, (SELECT json_group_array(json_object('type', 'T', 'codec', v, 'data', 'AAH/')) FROM (SELECT * FROM h ORDER BY k)));
SELECT h.k, e.codec = h.v, hex(e.data) FROM h JOIN es_stream('codecs') e ON e.version = h.k ORDER BY h.k;

-- echo: == idempotency keys: one append per key, then every key replayed
SELECT k, es_append('keys', -1, json_object('type', 'T', 'data', k), json_object('idempotency_key', v)) FROM h ORDER BY k;
SELECT k, es_append('keys', 0, '[]', json_object('idempotency_key', v)) FROM h ORDER BY k;
SELECT h.k, e.idempotency_key = h.v FROM h JOIN es_stream('keys') e ON e.version = h.k ORDER BY h.k;
SELECT count(*) FROM es_stream('keys');

-- echo: == metadata keys and values (options metadata merged into the event's)
SELECT es_append('meta', 0, json_object('type', 'T', 'data', 0, 'metadata', (SELECT json_group_object(v, k) FROM h)),
                 json_object('metadata', (SELECT json_group_object(k, v) FROM h)));
SELECT json_valid(metadata), json_extract(metadata, '$.1') = (SELECT v FROM h WHERE k = 1),
       (SELECT count(*) FROM json_each(metadata)) FROM es_stream('meta');
SELECT h.k, (SELECT j.value FROM es_stream('meta') e, json_each(e.metadata) j WHERE j.key = h.v) FROM h ORDER BY h.k;

-- echo: == consumers: store, read, compare-and-set conflict
SELECT k, es_checkpoint(v, k) FROM h ORDER BY k;
SELECT k, es_checkpoint(v) FROM h ORDER BY k;
SELECT h.k, c.seq FROM h JOIN es_checkpoints c ON c.consumer = h.v ORDER BY h.k;
SELECT es_checkpoint(v, 0, 1) FROM h WHERE k = 3;
SELECT es_checkpoint(v, 0, 1) FROM h WHERE k = 5;
SELECT es_checkpoint(v, 0, 1) FROM h WHERE k = 7;
SELECT k, es_checkpoint(v, k, 100 + k) FROM h ORDER BY k;

-- echo: == snapshots: hostile stream ids and codecs, the value itself as a BLOB state
SELECT k, es_snapshot_save(v, 1, CAST(v AS BLOB), 3, v) FROM h ORDER BY k;
SELECT h.k, s.codec = h.v, s.state = CAST(h.v AS BLOB), s.schema_version FROM h JOIN es_snapshots s ON s.stream_id = h.v ORDER BY h.k;
SELECT k, es_snapshot_save(v, 1, json_object('v', v)) FROM h WHERE k IN (3, 5) ORDER BY k;
SELECT h.k, json_extract(s.state, '$.v') = h.v, s.codec FROM h JOIN es_snapshots s ON s.stream_id = h.v WHERE h.k IN (3, 5) ORDER BY h.k;

-- echo: == tombstone reasons: kept byte-identically, echoed by the refusal
SELECT k, es_append('r-' || k, 0, '{"type":"T","data":1}'), es_tombstone('r-' || k, v) FROM h ORDER BY k;
SELECT h.k, s.tombstone_reason = h.v, s.state FROM h JOIN es_streams s ON s.stream_id = 'r-' || h.k ORDER BY h.k;
SELECT es_append('r-1', -1, '{"type":"T","data":1}');
SELECT * FROM es_stream('r-3');
SELECT es_snapshot_save('r-5', 1, '{}');
SELECT es_tombstone('r-2', 'again');
SELECT k, es_status('r-' || k) FROM h WHERE k IN (1, 3, 5) ORDER BY k;

CREATE TEMP TABLE rows_before AS SELECT * FROM es_events;
CREATE TEMP TABLE streams_before AS SELECT * FROM es_streams;

-- echo: == NUL bytes in SQL text (CAST(x'..' AS TEXT)): refused, except in a reason
SELECT es_append(CAST(x'610062' AS TEXT), 0, '{"type":"T","data":1}');
SELECT es_status(CAST(x'610062' AS TEXT));
SELECT es_checkpoint(CAST(x'610062' AS TEXT));
SELECT es_checkpoint(CAST(x'610062' AS TEXT), 1);
SELECT es_checkpoint(CAST(x'610062' AS TEXT), 0, 1);
SELECT es_tombstone(CAST(x'6964732d6f7468657200' AS TEXT), 'r');
SELECT es_delete(CAST(x'696473000000' AS TEXT));
SELECT es_archive(CAST(x'6964730061' AS TEXT));
SELECT es_restore(CAST(x'6964730061' AS TEXT));
SELECT es_snapshot_save(CAST(x'6964730061' AS TEXT), 1, '{}');
SELECT es_snapshot_invalidate(CAST(x'6964730061' AS TEXT));
SELECT * FROM es_stream(CAST(x'6964730061' AS TEXT));
SELECT count(*) FROM es_all() WHERE stream_id = CAST(x'6964730061' AS TEXT);
SELECT count(*) FROM es_all() WHERE category = CAST(x'6964730061' AS TEXT);
SELECT count(*) FROM es_all() WHERE type = CAST(x'5400' AS TEXT);
SELECT es_archive('ids', CAST(x'6d61696e00' AS TEXT));
SELECT es_append('ok', 0, '{"type":"T","data":1}', CAST(x'7b7d00' AS TEXT));
SELECT es_append('ok', 0, CAST(x'7b2274797065223a2254222c2264617461223a317d00' AS TEXT));
SELECT es_append('nul-reason', 0, '{"type":"T","data":1}'), es_tombstone('nul-reason', CAST(x'61006200' AS TEXT));
SELECT hex(tombstone_reason), length(CAST(tombstone_reason AS BLOB)) FROM es_streams WHERE stream_id = 'nul-reason';
SELECT es_append('nul-reason', -1, '{"type":"T","data":1}');
-- echo: == NUL bytes as JSON \u0000: refused in names, stored verbatim in data and metadata
SELECT es_append('ok', 0, '{"type":"T\u0000x","data":1}');
SELECT es_append('ok', 0, '{"type":"T","codec":"c\u0000","data":"AA=="}');
SELECT es_append('ok', 0, '{"type":"T","id":"i\u0000","data":1}');
SELECT es_append('ok', 0, '{"type":"T","data":1}', '{"idempotency_key":"\u0000"}');
SELECT es_append('nul-data', 0, '{"type":"T","data":"a\u0000b","metadata":{"k\u0000":"\u0000"}}');
SELECT data, metadata FROM es_stream('nul-data');
DELETE FROM rows_before; INSERT INTO rows_before SELECT * FROM es_events;
DELETE FROM streams_before; INSERT INTO streams_before SELECT * FROM es_streams;

-- echo: == lengths: 1025 bytes is SQLITE_TOOBIG everywhere an id goes, 1 MB too
SELECT es_append(v || 'y', 0, '{"type":"T","data":1}') FROM h WHERE k = 8;
SELECT es_append(v || 'y', 0, '{"type":"T","data":1}') FROM h WHERE k = 12;
SELECT es_append('long', 0, json_object('type', v || 'y', 'data', 1)) FROM h WHERE k = 8;
SELECT es_append('long', 0, json_object('type', 'T', 'codec', v || 'y', 'data', '')) FROM h WHERE k = 8;
SELECT es_append('long', 0, json_object('type', 'T', 'id', v || 'y', 'data', 1)) FROM h WHERE k = 8;
SELECT es_append('long', 0, '{"type":"T","data":1}', json_object('idempotency_key', v || 'y')) FROM h WHERE k = 8;
SELECT es_status(v || 'y') FROM h WHERE k = 8;
SELECT es_checkpoint(v || 'y') FROM h WHERE k = 8;
SELECT es_checkpoint(v || 'y', 1) FROM h WHERE k = 8;
SELECT es_tombstone(v || 'y', 'r') FROM h WHERE k = 8;
SELECT es_delete(v || 'y') FROM h WHERE k = 8;
SELECT es_archive(v || 'y') FROM h WHERE k = 8;
SELECT es_snapshot_save(v || 'y', 1, '{}') FROM h WHERE k = 8;
SELECT count(*) FROM es_stream((SELECT v || 'y' FROM h WHERE k = 8));
SELECT count(*) FROM es_all() WHERE stream_id = (SELECT v || 'y' FROM h WHERE k = 8);
SELECT es_append(replace(hex(zeroblob(524288)), '0', 's'), 0, '{"type":"T","data":1}');
SELECT es_append('long', 0, json_object('type', replace(hex(zeroblob(524288)), '0', 't'), 'data', 1));
SELECT es_append('long', 0, '{"type":"T","data":1}', json_object('idempotency_key', replace(hex(zeroblob(524288)), '0', 'k')));
SELECT es_checkpoint(replace(hex(zeroblob(524288)), '0', 'c'), 1);
SELECT es_append('long', 0, json_object('type', '', 'data', 1));
SELECT es_append('', 0, '{"type":"T","data":1}');
SELECT es_checkpoint('');
SELECT es_archive('ids', '');
SELECT es_archive('ids', replace(hex(zeroblob(64)), '0', 'd'));
-- echo: 1 MB is fine where no limit applies: data, metadata, reason, snapshot state
SELECT es_append('big', 0, json_object('type', 'T', 'data', replace(hex(zeroblob(524288)), '0', 'd'),
                 'metadata', json_object('m', replace(hex(zeroblob(524288)), '0', 'm'))));
SELECT length(data), length(metadata), json_extract(data, '$') = replace(hex(zeroblob(524288)), '0', 'd') FROM es_stream('big');
SELECT es_snapshot_save('big', 1, json_quote(replace(hex(zeroblob(524288)), '0', 'z')));
SELECT length(state) FROM es_snapshots WHERE stream_id = 'big';
SELECT es_tombstone('big', replace(hex(zeroblob(524288)), '0', 'r'));
SELECT length(tombstone_reason), tombstone_reason = replace(hex(zeroblob(524288)), '0', 'r') FROM es_streams WHERE stream_id = 'big';
SELECT es_status('big');

-- echo: == nothing reached SQL text: same schema, no extra tables, rows intact
SELECT type, name, tbl_name FROM main.sqlite_schema ORDER BY type, name;
SELECT count(*) FROM (SELECT type, name, tbl_name, sql FROM main.sqlite_schema EXCEPT SELECT * FROM schema_before);
SELECT count(*) FROM (SELECT * FROM schema_before EXCEPT SELECT type, name, tbl_name, sql FROM main.sqlite_schema);
SELECT name FROM sqlite_temp_schema ORDER BY name;
SELECT name FROM pragma_database_list ORDER BY seq;
SELECT * FROM sentinel;
SELECT count(*) FROM (SELECT * FROM rows_before EXCEPT SELECT * FROM es_events);
SELECT count(*) FROM (SELECT * FROM es_events EXCEPT SELECT * FROM rows_before);
SELECT count(*) FROM (SELECT * FROM streams_before EXCEPT SELECT * FROM es_streams);
SELECT stream_id, state FROM (SELECT * FROM es_streams EXCEPT SELECT * FROM streams_before) ORDER BY stream_id;
SELECT count(*), max(seq) < es_head(), es_head() FROM es_events;
-- echo: no eskit call left a permit behind: the guard function says 0 in its three forms
-- echo: (bookkeeping of this store, an insert of the next seq, a delete of a stream's rows)
SELECT "es_events and es_streams are written only by eskit: load the eskit extension"(value),
       "es_events and es_streams are written only by eskit: load the eskit extension"(value, es_head() + 1),
       "es_events and es_streams are written only by eskit: load the eskit extension"(value, 'delete', 'big')
  FROM es_meta WHERE key = 'store_id';
PRAGMA integrity_check;
PRAGMA foreign_key_check;
