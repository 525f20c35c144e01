-- One gateway per database syncs the relationship graph for all (the holder of the lease,
-- renewed while it lives, taken over when it lapses); `version` counts stored syncs, so the
-- others reload the stored graph when it moves.
CREATE TABLE graph_sync (
    id          BIGINT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    version     BIGINT NOT NULL
);
INSERT INTO graph_sync (id, holder, lease_until, version) VALUES (1, '', 0, 0);
