-- 030_expected_version: the four modes of es_append's expected_version (SPEC section 3), each on
-- a stream that does not exist and on one that does, success and conflict, with exact messages.
-- A conflict is SQLITE_CONSTRAINT and writes nothing.

-- echo: N >= 0: the stream must be at exactly version N (0: no events yet)
SELECT 'ev_01', es_append('acct-1', 0, '{"type":"Opened","data":1}') = 1;
SELECT 'ev_02', es_append('acct-1', 1, '{"type":"Deposited","data":2}') = 2;
SELECT 'ev_03', es_append('acct-1', 2, '[{"type":"A","data":3},{"type":"B","data":4}]') = 4;
SELECT es_append('acct-1', 0, '{"type":"Opened","data":1}');
SELECT es_append('acct-1', 3, '{"type":"X","data":1}');
SELECT es_append('acct-1', 5, '{"type":"X","data":1}');
SELECT es_append('acct-1', 9223372036854775807, '{"type":"X","data":1}');
SELECT es_append('acct-2', 1, '{"type":"X","data":1}');
SELECT es_append('acct-2', 7, '[]');
SELECT 'ev_04', es_status('acct-2') = 'none';

-- echo: -1: any version, also none
SELECT 'ev_05', es_append('acct-3', -1, '{"type":"Opened","data":1}') = 1;
SELECT 'ev_06', es_append('acct-3', -1, '{"type":"X","data":2}') = 2;
SELECT 'ev_07', es_append('acct-1', -1, '{"type":"X","data":5}') = 5;

-- echo: NULL: the same as -1
SELECT 'ev_08', es_append('acct-4', NULL, '{"type":"Opened","data":1}') = 1;
SELECT 'ev_09', es_append('acct-4', NULL, '{"type":"X","data":2}') = 2;

-- echo: -2: the stream must have at least one event
SELECT es_append('acct-5', -2, '{"type":"X","data":1}');
SELECT es_append('acct-5', -2, '[]');
SELECT 'ev_10', es_status('acct-5') = 'none';
SELECT 'ev_11', es_append('acct-1', -2, '{"type":"X","data":6}') = 6;
SELECT 'ev_12', es_append('acct-1', -2, '[]') = 6;

-- echo: expected_version may be any expression of integer type
SELECT 'ev_13', es_append('acct-1', 3 + 3, '{"type":"X","data":7}') = 7;
SELECT 'ev_14', es_append('acct-1', CAST('7' AS INTEGER), '{"type":"X","data":8}') = 8;

-- echo: the version of the stream is the only thing compared; other streams do not matter
SELECT 'ev_15', es_append('acct-6', 0, '{"type":"Opened","data":1}') = 1;

-- echo: every conflict above wrote nothing: versions are contiguous and the streams are right
SELECT stream_id, group_concat(version, ',') FROM (
  SELECT stream_id, version FROM es_events ORDER BY stream_id, version)
GROUP BY stream_id ORDER BY stream_id;
SELECT stream_id, version, state FROM es_streams ORDER BY stream_id;
SELECT 'ev_16', es_head() = 13, (SELECT count(*) FROM es_events) = 13;

-- echo: values that are not a mode are invalid_argument, whatever the stream's state
SELECT es_append('acct-1', -3, '{"type":"X","data":1}');
SELECT es_append('acct-1', -9223372036854775808, '{"type":"X","data":1}');
SELECT es_append('acct-1', 1.5, '{"type":"X","data":1}');
SELECT es_append('acct-1', 8.0, '{"type":"X","data":1}');
SELECT es_append('acct-1', 'abc', '{"type":"X","data":1}');
SELECT es_append('acct-1', '8', '{"type":"X","data":1}');
SELECT es_append('acct-1', '', '{"type":"X","data":1}');
SELECT es_append('acct-1', x'414243', '{"type":"X","data":1}');
SELECT 'ev_17', es_head() = 13, (SELECT version FROM es_streams WHERE stream_id = 'acct-1') = 8;
