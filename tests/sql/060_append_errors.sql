-- 060_append_errors: every invalid_argument path of es_append with its exact message and result
-- code (SPEC section 2: SQLITE_ERROR, SQLITE_TOOBIG for oversized input). Each call would
-- otherwise succeed (stream 's-1' is at version 1 and expected_version is 1), so the argument
-- named in the message is the only fault. A failed call changes nothing: the state line after
-- each group shows count(*), es_head() and the stream's version; es_head() never decreases, so
-- an unchanged head after a group means no call of the group wrote.

SELECT es_append('s-1', 0, '{"type":"Created","data":1}', '{"timestamp":1}');
CREATE TEMP VIEW state AS
  SELECT 'state', count(*), es_head(),
         (SELECT version FROM es_streams WHERE stream_id = 's-1') FROM es_events;
SELECT * FROM state;

-- echo: stream_id: TEXT, non-empty, at most 1024 bytes, no NUL
SELECT es_append(NULL, 1, '{"type":"A","data":1}');
SELECT es_append(17, 1, '{"type":"A","data":1}');
SELECT es_append(1.5, 1, '{"type":"A","data":1}');
SELECT es_append(x'732d31', 1, '{"type":"A","data":1}');
SELECT es_append('', 1, '{"type":"A","data":1}');
SELECT es_append(printf('%.*c', 1025, 'x'), 1, '{"type":"A","data":1}');
-- 1024 characters, 1025 bytes: the limit counts bytes
SELECT es_append('s-' || printf('%.*c', 1021, 'y') || 'é', 1, '{"type":"A","data":1}');
SELECT es_append(CAST('s-1' || x'00' || 'x' AS TEXT), 1, '{"type":"A","data":1}');
SELECT * FROM state;
-- echo: 1024 bytes is the maximum and is accepted
SELECT es_append(printf('%.*c', 1024, 'x'), 0, '{"type":"A","data":1}');
SELECT length(stream_id), category = stream_id FROM es_streams WHERE length(stream_id) = 1024;
SELECT * FROM state;

-- echo: expected_version: an integer >= 0, -1, -2 or NULL
SELECT es_append('s-1', -3, '{"type":"A","data":1}');
SELECT es_append('s-1', 1.5, '{"type":"A","data":1}');
SELECT es_append('s-1', 'abc', '{"type":"A","data":1}');
SELECT es_append('s-1', '1', '{"type":"A","data":1}');
SELECT * FROM state;

-- echo: events: JSON text
SELECT es_append('s-1', 1, NULL);
SELECT es_append('s-1', 1, 1);
SELECT es_append('s-1', 1, 2.5);
SELECT es_append('s-1', 1, CAST('{"type":"A","data":1}' AS BLOB));
SELECT es_append('s-1', 1, '');
SELECT es_append('s-1', 1, '   ');
SELECT es_append('s-1', 1, 'not json');
SELECT es_append('s-1', 1, '{"type":"A","data":1');
SELECT es_append('s-1', 1, '[{"type":"A","data":1},]');
SELECT es_append('s-1', 1, '{"type":"A","data":1} {"type":"B","data":2}');
SELECT es_append('s-1', 1, '{"type":"A","data":[tru]}');
SELECT es_append('s-1', 1, '{"type":"A","data":"\x"}');
SELECT * FROM state;

-- echo: events: an array of objects or one object
SELECT es_append('s-1', 1, '"event"');
SELECT es_append('s-1', 1, '42');
SELECT es_append('s-1', 1, 'null');
SELECT es_append('s-1', 1, 'true');
SELECT es_append('s-1', 1, '[1]');
SELECT es_append('s-1', 1, '[{"type":"A","data":1}, "B"]');
SELECT es_append('s-1', 1, '[{"type":"A","data":1}, [{"type":"B","data":2}]]');
SELECT es_append('s-1', 1, '[null]');
SELECT * FROM state;

-- echo: event keys: unknown, duplicate, missing
SELECT es_append('s-1', 1, '{"type":"A","data":1,"extra":2}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"Type":"B"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"stream_id":"s-1"}');
SELECT es_append('s-1', 1, '[{"type":"A","data":1},{"type":"B","data":2,"version":2}]');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"type":"B"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"data":2}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"id":"x","id":"x"}');
SELECT es_append('s-1', 1, '{"data":1}');
SELECT es_append('s-1', 1, '{"type":"A"}');
SELECT es_append('s-1', 1, '{}');
SELECT es_append('s-1', 1, '[{"type":"A","data":1},{"type":"B"}]');
SELECT * FROM state;

-- echo: type, codec, id: non-empty strings without NUL, at most 1024 bytes
SELECT es_append('s-1', 1, '{"type":"","data":1}');
SELECT es_append('s-1', 1, '{"type":1,"data":1}');
SELECT es_append('s-1', 1, '{"type":null,"data":1}');
SELECT es_append('s-1', 1, '{"type":["A"],"data":1}');
SELECT es_append('s-1', 1, '{"type":"A\u0000B","data":1}');
SELECT es_append('s-1', 1, '{"type":"' || printf('%.*c', 1025, 't') || '","data":1}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"codec":""}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"codec":5}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"codec":null}');
SELECT es_append('s-1', 1, '{"type":"A","data":"AA==","codec":"' || printf('%.*c', 1025, 'c') || '"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"id":""}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"id":7}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"id":{"v":1}}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"id":"' || printf('%.*c', 1025, 'i') || '"}');
SELECT * FROM state;

-- echo: schema_version: an integer >= 1
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":0}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":-1}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":1.5}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":"2"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":null}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"schema_version":18446744073709551615}');
SELECT * FROM state;

-- echo: metadata: an object (null counts as absent)
SELECT es_append('s-1', 1, '{"type":"A","data":1,"metadata":[]}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"metadata":"k=v"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"metadata":1}');
SELECT * FROM state;

-- echo: data of a non-json codec: a base64 string
SELECT es_append('s-1', 1, '{"type":"A","data":"!!!!","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1,"codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":{"a":1},"codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":null,"codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"Q","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"QQ=","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"QQ===","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"QU JD","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"QUJD\n","codec":"raw"}');
SELECT es_append('s-1', 1, '{"type":"A","data":"QUJD-_","codec":"raw"}');
SELECT es_append('s-1', 1, '[{"type":"A","data":"QUJD","codec":"raw"},{"type":"B","data":"*","codec":"raw"}]');
SELECT * FROM state;

-- echo: options: NULL means none; otherwise a JSON object
SELECT es_append('s-1', 1, '{"type":"A","data":1}', 1);
SELECT es_append('s-1', 1, '{"type":"A","data":1}', CAST('{}' AS BLOB));
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', 'nope');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":1');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '[]');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '"k1"');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', 'null');
SELECT * FROM state;

-- echo: options: unknown option
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotencyKey":"k"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":1,"expected_version":1}');
SELECT * FROM state;

-- echo: options.idempotency_key: a non-empty string of at most 1024 bytes
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotency_key":""}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotency_key":5}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotency_key":["k"]}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotency_key":"k\u0000"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}',
  '{"idempotency_key":"' || printf('%.*c', 1025, 'k') || '"}');
SELECT * FROM state;

-- echo: options.timestamp: an integer >= 0 (microseconds)
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":-1}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":1.5}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":1e6}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":"1700000000000000"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":18446744073709551615}');
SELECT * FROM state;

-- echo: options.metadata: an object (null counts as absent)
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"metadata":[]}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"metadata":"m"}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"metadata":true}');
SELECT * FROM state;

-- echo: the first fault in argument order is reported (stream_id, expected_version, options, events)
SELECT es_append('', 'x', 'bad', 'bad');
SELECT es_append('s-1', 'x', 'bad', 'bad');
SELECT es_append('s-1', 1, 'bad', 'bad');
SELECT es_append('s-1', 1, 'bad', '{}');
-- echo: argument errors win over conflicts
SELECT es_append('s-1', 5, '{"type":"A"}');
SELECT * FROM state;

-- echo: the table holds only the two good events
SELECT seq, length(stream_id), version, type, data FROM es_events ORDER BY seq;

-- echo: an option given twice is ambiguous, like an event key given twice
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"timestamp":1,"timestamp":2}');
SELECT es_append('s-1', 1, '{"type":"A","data":1}', '{"idempotency_key":"a","idempotency_key":"b"}');
SELECT * FROM state;
