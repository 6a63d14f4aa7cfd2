-- 050_event_ids: caller-given event ids (SPEC section 3). If the call's events already exist on
-- this stream as consecutive versions, in the same order, with the same ids, types and data, the
-- call is a replay: nothing is written and it returns the version of the last of them, whatever
-- expected_version says. Any other reuse of an existing id is duplicate_event (SQLITE_CONSTRAINT).

-- echo: setup: ids e-1..e-3 on order-1, e-4 on order-2, e-5 (codec raw) on bin-1
SELECT es_append('order-1', 0, '[
  {"type":"Placed","data":{"total":10},"id":"e-1"},
  {"type":"Paid","data":10,"id":"e-2"},
  {"type":"Shipped","data":"dhl","id":"e-3"}]', '{"timestamp":100}');
SELECT es_append('order-2', 0, '{"type":"Placed","data":{"total":20},"id":"e-4"}',
  '{"timestamp":200}');
SELECT es_append('bin-1', 0, '{"type":"Blob","data":"AAE=","codec":"raw","id":"e-5"}',
  '{"timestamp":300}');

-- echo: exact replays return the version of their last event, whatever expected_version says
SELECT 'ids_01', es_append('order-1', 0, '[
  {"type":"Placed","data":{"total":10},"id":"e-1"},
  {"type":"Paid","data":10,"id":"e-2"},
  {"type":"Shipped","data":"dhl","id":"e-3"}]') = 3;
SELECT 'ids_02', es_append('order-1', 3, '[{"type":"Placed","data":{"total":10},"id":"e-1"},
  {"type":"Paid","data":10,"id":"e-2"}]') = 2;
SELECT 'ids_03', es_append('order-1', 77, '[{"type":"Paid","data":10,"id":"e-2"},
  {"type":"Shipped","data":"dhl","id":"e-3"}]') = 3;
SELECT 'ids_04', es_append('order-1', -2, '{"type":"Shipped","data":"dhl","id":"e-3"}') = 3;
SELECT 'ids_05', es_append('order-1', NULL, '{"type":"Placed","data":{"total":10},"id":"e-1"}') = 1;
SELECT 'ids_06', es_append('order-2', 0, '{"type":"Placed","data":{"total":20},"id":"e-4"}') = 1;
SELECT 'ids_07', es_append('bin-1', 0, '{"type":"Blob","data":"AAE=","codec":"raw","id":"e-5"}') = 1;
-- echo: metadata, schema_version and options are not part of the comparison
SELECT 'ids_08', es_append('order-1', 0, '{"type":"Placed","data":{"total":10},"id":"e-1",
  "metadata":{"retry":true},"schema_version":2}', '{"timestamp":999,"metadata":{"x":1}}') = 1;
SELECT 'ids_09', es_append('order-1', 0, '{"type":"Placed","data":{"total":10},"id":"e-1"}',
  '{"idempotency_key":"new-key"}') = 1;
-- echo: the replays wrote nothing
SELECT 'ids_10', es_head() = 5, (SELECT count(*) FROM es_events) = 5,
  (SELECT count(*) FROM es_events WHERE idempotency_key IS NOT NULL) = 0;
SELECT seq, stream_id, version, type, data, metadata, event_id, created_at FROM es_events
ORDER BY seq;

-- echo: duplicate_event: the id exists on another stream
SELECT es_append('order-3', 0, '{"type":"Placed","data":{"total":10},"id":"e-1"}');
SELECT es_append('order-2', 1, '{"type":"Paid","data":10,"id":"e-2"}');
-- echo: duplicate_event: same ids in another order, or not consecutive
SELECT es_append('order-1', NULL, '[{"type":"Paid","data":10,"id":"e-2"},
  {"type":"Placed","data":{"total":10},"id":"e-1"}]');
SELECT es_append('order-1', NULL, '[{"type":"Placed","data":{"total":10},"id":"e-1"},
  {"type":"Shipped","data":"dhl","id":"e-3"}]');
-- echo: duplicate_event: same id, other content (type, data, codec; data compared as stored text)
SELECT es_append('order-1', NULL, '{"type":"Cancelled","data":{"total":10},"id":"e-1"}');
SELECT es_append('order-1', NULL, '{"type":"Placed","data":{"total":11},"id":"e-1"}');
SELECT es_append('order-1', NULL, '{"type":"Placed","data":{"total": 10},"id":"e-1"}');
SELECT es_append('bin-1', NULL, '{"type":"Blob","data":"AAI=","codec":"raw","id":"e-5"}');
SELECT es_append('bin-1', NULL, '{"type":"Blob","data":"AAE=","codec":"other","id":"e-5"}');
-- echo: duplicate_event: a call that mixes existing and new ids (in either position)
SELECT es_append('order-1', NULL, '[{"type":"Shipped","data":"dhl","id":"e-3"},
  {"type":"Delivered","data":1,"id":"e-6"}]');
SELECT es_append('order-1', NULL, '[{"type":"Delivered","data":1,"id":"e-6"},
  {"type":"Shipped","data":"dhl","id":"e-3"}]');
SELECT es_append('order-1', NULL, '[{"type":"Shipped","data":"dhl","id":"e-3"},
  {"type":"Delivered","data":1}]');
-- echo: duplicate_event: the same id twice inside one call (checked before anything else)
SELECT es_append('order-4', 0, '[{"type":"A","data":1,"id":"d-1"},{"type":"B","data":2,"id":"d-1"}]');
SELECT es_append('order-1', 0, '[{"type":"Placed","data":{"total":10},"id":"e-1"},
  {"type":"Placed","data":{"total":10},"id":"e-1"}]');
-- echo: ids are compared exactly
SELECT es_append('order-1', 3, '{"type":"Delivered","data":1,"id":"E-1"}');

-- echo: none of the failures wrote anything
SELECT seq, stream_id, version, event_id FROM es_events ORDER BY seq;
SELECT 'ids_11', es_head() = 6, es_status('order-3') = 'none', es_status('order-4') = 'none';

-- echo: replay and expected_version: a replay wins over a conflict, a non-replay does not
SELECT es_append('order-1', 0, '{"type":"Delivered","data":1,"id":"E-1"}');
SELECT es_append('order-1', 0, '{"type":"Delivered","data":2,"id":"e-7"}');
