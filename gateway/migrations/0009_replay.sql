-- Signature keys (`s:` keys, one per state-changing request) are swept by age once they can
-- no longer verify, and reconciliation settles keys by request id: both by index, not scan.
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX idempotency_request ON idempotency (request_id);
