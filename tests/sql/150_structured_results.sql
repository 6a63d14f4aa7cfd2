-- 150_structured_results: what a host reads instead of parsing messages (eskit.h; SPEC section
-- 5 "Errors"): es_last_error() describes the last failed eskit call on the connection (NULL
-- after a success), es_last_append() what the last es_append recorded.

-- echo: nothing yet
SELECT es_last_error(), es_last_append();
-- echo: an append: first seq, count, versions, the time every event got, its ids
SELECT es_append('order-1', 0, '[{"type":"A","data":1,"id":"e-1"},{"type":"B","data":2,"id":"e-2"}]',
  '{"timestamp":1700000000000000}');
SELECT es_last_append();
SELECT es_last_error();
-- echo: generated ids are reported as written
SELECT es_append('order-1', 2, '{"type":"C","data":3}');
SELECT json_extract(es_last_append(), '$.event_ids[0]') = (SELECT event_id FROM es_events WHERE seq = 3),
       json_extract(es_last_append(), '$.first_seq'), json_extract(es_last_append(), '$.replay');
-- echo: a replay by ids: nothing written, the existing events described
SELECT es_append('order-1', 0, '[{"type":"A","data":1,"id":"e-1"},{"type":"B","data":2,"id":"e-2"}]');
SELECT es_last_append();
-- echo: a replay by idempotency key: the version that append reached
SELECT es_append('order-1', 3, '{"type":"D","data":4}', '{"idempotency_key":"k-1"}');
SELECT es_append('order-1', 0, '{"type":"D","data":4}', '{"idempotency_key":"k-1"}');
SELECT json_extract(es_last_append(), '$.replay'), json_extract(es_last_append(), '$.last_version');
-- echo: a conflict: code, SQLite code, message, stream, expected and actual version
SELECT es_append('order-1', 1, '{"type":"X","data":0}');
SELECT es_last_error();
SELECT es_last_append();
-- echo: a checkpoint compare-and-set conflict carries the stored and expected positions
SELECT es_checkpoint('p', 5);
SELECT es_checkpoint('p', 3, 9);
SELECT es_last_error();
-- echo: an error of another code, and a success clears it
SELECT es_append('', 0, '[]');
SELECT json_extract(es_last_error(), '$.code'), json_extract(es_last_error(), '$.sqlite_code');
SELECT es_head();
SELECT es_last_error();
-- echo: a tombstoned stream
SELECT es_tombstone('order-1', 'gdpr');
SELECT es_append('order-1', -1, '[]');
SELECT es_last_error();
