-- A slice being issued upstream as its grantee's own vendor quota (the admin API's
-- `issue_upstream`): held on its parent from before the vendor is called until the vendor's
-- answer, or reconciliation with the vendor's quota records, settles it.
CREATE TABLE ledger_issuing (
    node       TEXT PRIMARY KEY,
    quota_id   TEXT NOT NULL,
    reseller   TEXT NOT NULL,
    amount     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Vendor records (fund transfers, quota issues, vouchers) that reconciliation matched to a
-- request whose outcome was unknown: each record explains one request, never two.
CREATE TABLE reconciled_records (
    record_id  TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
