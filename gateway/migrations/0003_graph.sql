-- The relationship graph (distributor -> resellers -> customers, quotas and vouchers), so a
-- restarted gateway decides from the last known graph before its first sync completes.
CREATE TABLE graph_edges (
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    owner  TEXT NOT NULL,
    resale BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, id)
);
