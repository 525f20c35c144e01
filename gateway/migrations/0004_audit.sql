-- The audit log: a hash chain of records, each signed; signed checkpoints of the chain head.
-- Query columns are derived from the canonical body (verification checks they still match).
CREATE TABLE audit_records (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    request_id TEXT,
    operation  TEXT,
    principal  TEXT,
    tier       TEXT,
    acting     TEXT,
    customers  TEXT,
    amount     TEXT,
    outcome    TEXT,
    body       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    signature  TEXT NOT NULL
);
CREATE INDEX audit_records_at ON audit_records (at);
CREATE INDEX audit_records_request ON audit_records (request_id);
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    head      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    signature TEXT NOT NULL
);
