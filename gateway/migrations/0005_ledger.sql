-- The delegation ledger: one row per slice and per reservation in flight, each the JSON of the
-- pure ledger's type. Operations on a quota's tree run under that quota's lock.
CREATE TABLE ledger_nodes (
    id         TEXT PRIMARY KEY,
    quota_id   TEXT NOT NULL,
    node       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ledger_nodes_quota ON ledger_nodes (quota_id);
CREATE TABLE ledger_reservations (
    id          TEXT PRIMARY KEY,
    quota_id    TEXT NOT NULL,
    reservation TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX ledger_reservations_quota ON ledger_reservations (quota_id);
