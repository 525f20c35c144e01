-- A slice issued upstream as a reseller's own vendor quota: vouchers issued from that quota
-- draw on the slice.
CREATE TABLE ledger_aliases (
    upstream_quota TEXT PRIMARY KEY,
    quota_id       TEXT NOT NULL,
    node           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
-- Every voucher issued through a slice: where a reclaim credits back to. `reclaim_seen` is set
-- when a reclaim went through Tiergate; `reclaimed` holds the amount credited once the vendor's
-- records show what the reclaim returned.
CREATE TABLE ledger_coupons (
    coupon_id   TEXT PRIMARY KEY,
    quota_id    TEXT NOT NULL,
    node        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    face_value  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    upstream_quota TEXT NOT NULL,
    acting      TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    reclaim_seen BIGINT,
    reclaimed   TEXT
);
CREATE INDEX ledger_coupons_quota ON ledger_coupons (quota_id);
-- What a reservation was issued against upstream (the request's quota and acting partner),
-- for reconciliation with the vendor's voucher records.
ALTER TABLE ledger_reservations ADD COLUMN upstream_quota TEXT;
ALTER TABLE ledger_reservations ADD COLUMN acting TEXT;
-- Idempotency: the first outcome of a money-moving request per caller and key.
CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    status      INTEGER,
    body        TEXT,
    created_at  BIGINT NOT NULL
);
