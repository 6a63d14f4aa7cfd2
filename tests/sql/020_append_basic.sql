-- 020_append_basic: es_append(stream_id, expected_version, events [, options]) on the happy
-- path (SPEC section 3): return values, versions, seq, categories, metadata merging, caller ids
-- and timestamps, generated UUIDv7 ids, schema_version, non-json codecs, empty batches.

-- echo: one event object, then an array: the result is the stream's version after the call
SELECT 'append_01', es_append('order-17', 0, '{"type":"Placed","data":{"total":10}}') = 1;
SELECT 'append_02', es_append('order-17', 1,
  '[{"type":"Paid","data":10},{"type":"Packed","data":null},{"type":"Shipped","data":"dhl"}]') = 4;
SELECT 'append_03', es_append('order-17', NULL, '{"type":"Delivered","data":true}') = 5;
SELECT seq, stream_id, version, type, data, typeof(data) FROM es_events ORDER BY seq;
SELECT 'append_04', es_head() = 5, es_status('order-17') = 'active';

-- echo: categories: the part of stream_id before the first '-', else the whole id
SELECT es_append('customer', 0, '{"type":"Registered","data":{}}');
SELECT es_append('a-b-c', 0, '{"type":"T","data":[]}');
SELECT es_append('-lead', 0, '{"type":"T","data":0}');
SELECT es_append('trail-', 0, '{"type":"T","data":0}');
SELECT stream_id, category FROM es_streams ORDER BY stream_id;
SELECT DISTINCT stream_id, es_category(stream_id) FROM es_events ORDER BY stream_id;

-- echo: data is any JSON value, stored as the JSON text given (json_extract works on it)
SELECT es_append('json-1', 0, '[
  {"type":"Obj","data":{"a" : [1, 2.5e3, {"b":null}], "s":"\u00e9\n"}},
  {"type":"Arr","data":[ ]},
  {"type":"Str","data":"plain"},
  {"type":"Num","data":-0.5},
  {"type":"Int","data":18446744073709551615},
  {"type":"Bool","data":false},
  {"type":"Null","data":null},
  {"type":"Utf8","data":"zoë ✓ 😀"}]');
SELECT version, type, data, typeof(data), json_valid(data) FROM es_events
WHERE stream_id = 'json-1' ORDER BY version;
SELECT json_extract(data, '$.a[1]'), json_extract(data, '$.s') = 'é' || char(10)
FROM es_events WHERE stream_id = 'json-1' AND version = 1;

-- echo: caller ids and timestamp make the rows deterministic (all columns shown)
SELECT es_append('cart-9', 0,
  '[{"type":"Added","data":{"sku":"a"},"id":"0190c1a2-0000-7000-8000-000000000001",
     "metadata":{"user":"u1"},"schema_version":2},
    {"type":"Added","data":{"sku":"b"},"id":"0190c1a2-0000-7000-8000-000000000002"}]',
  '{"timestamp":1700000000000000,"idempotency_key":"req-1","metadata":{"trace":"t-1"}}');
SELECT * FROM es_events WHERE stream_id = 'cart-9' ORDER BY version;
SELECT * FROM es_streams WHERE stream_id = 'cart-9';
SELECT es_append('cart-9', 2, '{"type":"Removed","data":{"sku":"a"},"id":"ev-3"}',
  '{"timestamp":1700000000000999}');
SELECT stream_id, version, created_at, updated_at FROM es_streams WHERE stream_id = 'cart-9';
-- echo: timestamp 0 is a valid time
SELECT es_append('epoch-1', 0, '{"type":"T","data":1}', '{"timestamp":0}');
SELECT created_at FROM es_events WHERE stream_id = 'epoch-1';

-- echo: metadata: call-level merged into every event, keys given on the event win
SELECT es_append('meta-1', 0, '[
  {"type":"A","data":1,"metadata":{"b":2,"a":"event"}},
  {"type":"B","data":2},
  {"type":"C","data":3,"metadata":null},
  {"type":"D","data":4,"metadata":{}}]',
  '{"metadata":{"a":"call","c":[1,2],"d":{"x":1}}}');
SELECT version, metadata, json_extract(metadata, '$.a') FROM es_events
WHERE stream_id = 'meta-1' ORDER BY version;
SELECT es_append('meta-2', 0, '[
  {"type":"A","data":1,"metadata":{"k":"v","n":null}},
  {"type":"B","data":2},
  {"type":"C","data":3,"metadata":{}}]');
SELECT es_append('meta-2', 3, '{"type":"D","data":4}', '{"metadata":null}');
SELECT es_append('meta-2', 4, '{"type":"E","data":5}', '{"metadata":{}}');
SELECT version, metadata, typeof(metadata) FROM es_events WHERE stream_id = 'meta-2'
ORDER BY version;

-- echo: generated ids are UUIDv7 text: version nibble 7, RFC variant, time prefix = created_at ms
SELECT es_append('gen-1', 0, '[{"type":"A","data":1},{"type":"B","data":2},{"type":"C","data":3}]');
SELECT version, length(event_id), substr(event_id, 15, 1), substr(event_id, 20, 1) IN ('8','9','a','b'),
       event_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-7[0-9a-f][0-9a-f][0-9a-f]-[89ab][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]',
       replace(substr(event_id, 1, 13), '-', '') = printf('%012x', created_at / 1000)
FROM es_events WHERE stream_id = 'gen-1' ORDER BY version;
SELECT 'append_05', count(DISTINCT event_id) = 3, min(event_id) = (SELECT event_id FROM es_events
  WHERE stream_id = 'gen-1' AND version = 1), max(event_id) = (SELECT event_id FROM es_events
  WHERE stream_id = 'gen-1' AND version = 3)
FROM es_events WHERE stream_id = 'gen-1';
-- echo: without a timestamp option, created_at is the current time in microseconds
SELECT 'append_06', count(*) = 3, max(abs(created_at - unixepoch('now') * 1000000)) < 600000000
FROM es_events WHERE stream_id = 'gen-1';
SELECT 'append_07', (SELECT count(DISTINCT created_at) FROM es_events WHERE stream_id = 'gen-1') = 1;
-- echo: generated ids never go backwards on a connection, even under an older timestamp option
SELECT es_append('gen-2', 0, '{"type":"A","data":1}', '{"timestamp":1700000000123456}');
SELECT created_at, substr(event_id, 15, 1),
       event_id > (SELECT max(event_id) FROM es_events WHERE stream_id = 'gen-1')
FROM es_events WHERE stream_id = 'gen-2';

-- echo: schema_version defaults to 1; codec to json
SELECT es_append('sv-1', 0, '[{"type":"A","data":1},{"type":"A","data":2,"schema_version":7},
  {"type":"A","data":3,"codec":"json","schema_version":1}]');
SELECT version, schema_version, codec FROM es_events WHERE stream_id = 'sv-1' ORDER BY version;

-- echo: other codecs: data is base64 and is stored as the decoded bytes in a BLOB
SELECT es_append('bin-1', 0, '[
  {"type":"Proto","data":"AAEC/w==","codec":"protobuf"},
  {"type":"Raw","data":"","codec":"raw"},
  {"type":"Raw","data":"aGk\/","codec":"raw"},
  {"type":"Raw","data":"aGk","codec":"raw"},
  {"type":"Raw","data":"+/+/","codec":"raw","schema_version":3}]');
SELECT version, type, codec, typeof(data), hex(data), length(data), schema_version FROM es_events
WHERE stream_id = 'bin-1' ORDER BY version;

-- echo: an empty array writes nothing, returns the current version, still checks the version
SELECT 'append_08', es_head() = 42;
SELECT es_append('order-17', NULL, '[]');
SELECT es_append('order-17', 5, '[]');
SELECT es_append('order-17', -2, '[]');
SELECT es_append('order-17', -1, '[]');
SELECT es_append('order-17', 4, '[]');
SELECT es_append('order-17', 0, '[]');
SELECT es_append('nobody-1', 0, '[]');
SELECT es_append('nobody-1', NULL, '[]');
SELECT es_append('nobody-1', -2, '[]');
SELECT es_append('nobody-1', 1, '[]');
SELECT 'append_09', es_status('nobody-1') = 'none', count(*) = 0 FROM es_streams
WHERE stream_id = 'nobody-1';
SELECT 'append_10', es_head() = 42, (SELECT count(*) FROM es_events) = 42;

-- echo: each append occupies consecutive seq values
SELECT stream_id, min(seq), max(seq), count(*) FROM es_events GROUP BY stream_id
ORDER BY min(seq);

-- echo: integers beyond 64 bits are valid JSON too (SQLite's json_valid accepts them), so they
-- echo: are data like any other number
SELECT json_valid('{"n":123456789012345678901234567890}');
SELECT es_append('json-2', 0, '{"type":"Big","data":{"n":123456789012345678901234567890}}');
SELECT data FROM es_events WHERE stream_id = 'json-2';
SELECT 'append_12', es_head() = 43, es_status('json-2') = 'active';
