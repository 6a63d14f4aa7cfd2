-- 040_idempotency: options.idempotency_key (SPEC section 3). The key is scoped to the stream; a
-- call whose key an earlier append on the same stream carried writes nothing and returns the
-- version that earlier append reached, whatever expected_version and the events now say.

-- echo: first use of a key writes, and the key is stored on every event of the call
SELECT 'idem_01', es_append('pay-1', 0, '{"type":"Requested","data":1}',
  '{"idempotency_key":"k1"}') = 1;
SELECT 'idem_02', es_append('pay-1', 1, '[{"type":"Authorized","data":2},{"type":"Captured","data":3}]',
  '{"idempotency_key":"k2"}') = 3;
SELECT seq, version, type, idempotency_key FROM es_events ORDER BY seq;

-- echo: a retry returns the version its key reached, whatever expected_version says
SELECT es_append('pay-1', 0, '{"type":"Requested","data":1}', '{"idempotency_key":"k1"}');
SELECT es_append('pay-1', 1, '[{"type":"Authorized","data":2},{"type":"Captured","data":3}]',
  '{"idempotency_key":"k2"}');
SELECT es_append('pay-1', 99, '{"type":"Requested","data":1}', '{"idempotency_key":"k1"}');
SELECT es_append('pay-1', NULL, '{"type":"Requested","data":1}', '{"idempotency_key":"k1"}');
SELECT es_append('pay-1', -2, '{"type":"Requested","data":1}', '{"idempotency_key":"k1"}');
-- echo: ... and whatever the events are (the key alone identifies the call)
SELECT es_append('pay-1', 3, '{"type":"Other","data":"changed"}', '{"idempotency_key":"k1"}');
SELECT es_append('pay-1', 3, '[]', '{"idempotency_key":"k2"}');
SELECT es_append('pay-1', 3, '{"type":"Other","data":1,"id":"fresh-id"}',
  '{"idempotency_key":"k2","timestamp":5,"metadata":{"m":1}}');
-- echo: nothing was written by the retries
SELECT 'idem_03', es_head() = 3, (SELECT count(*) FROM es_events) = 3,
  (SELECT version FROM es_streams WHERE stream_id = 'pay-1') = 3;

-- echo: the key is scoped to the stream: the same key on another stream writes
SELECT 'idem_04', es_append('pay-2', 0, '{"type":"Requested","data":1}',
  '{"idempotency_key":"k1"}') = 1;
SELECT 'idem_05', es_append('pay-2', 1, '{"type":"Requested","data":1}',
  '{"idempotency_key":"k1"}') = 1;
SELECT stream_id, version, idempotency_key FROM es_events WHERE idempotency_key = 'k1'
ORDER BY seq;

-- echo: keys are compared exactly (case and whitespace matter)
SELECT es_append('pay-1', 3, '{"type":"Refunded","data":4}', '{"idempotency_key":"K1"}');
SELECT es_append('pay-1', 4, '{"type":"Refunded","data":5}', '{"idempotency_key":" k1"}');
SELECT es_append('pay-1', 5, '{"type":"Refunded","data":6}', '{"idempotency_key":"\u006b1"}');

-- echo: a new key still obeys expected_version
SELECT es_append('pay-1', 0, '{"type":"Late","data":1}', '{"idempotency_key":"k3"}');
SELECT es_append('pay-9', -2, '{"type":"Late","data":1}', '{"idempotency_key":"k3"}');
-- echo: the failed calls did not record their key: it is still unused and writes now
SELECT 'idem_06', es_append('pay-1', 5, '{"type":"Late","data":1}', '{"idempotency_key":"k3"}') = 6;
SELECT 'idem_07', es_append('pay-1', 0, '{"type":"Late","data":1}', '{"idempotency_key":"k3"}') = 6;

-- echo: an empty batch writes no event, so its key is not recorded either
SELECT es_append('pay-1', 6, '[]', '{"idempotency_key":"k4"}');
SELECT 'idem_08', count(*) = 0 FROM es_events WHERE idempotency_key = 'k4';
SELECT es_append('pay-1', 6, '{"type":"Closed","data":1}', '{"idempotency_key":"k4"}');
SELECT es_append('pay-1', 6, '{"type":"Closed","data":1}', '{"idempotency_key":"k4"}');

-- echo: calls without a key are never deduplicated
SELECT es_append('pay-3', NULL, '{"type":"Ping","data":1}');
SELECT es_append('pay-3', NULL, '{"type":"Ping","data":1}');
SELECT es_append('pay-3', NULL, '{"type":"Ping","data":1}', '{}');
SELECT es_append('pay-3', NULL, '{"type":"Ping","data":1}', NULL);

-- echo: final state
SELECT seq, stream_id, version, type, idempotency_key FROM es_events ORDER BY seq;
SELECT 'idem_09', es_head() = 12;
