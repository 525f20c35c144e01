-- The syncer's place in the incremental and full syncs, kept where a gateway taking over
-- the lease finds it: `full_at` is when the last full sync began (Unix ms), `full_asked` when
-- one was last asked for by hand (`tiergate graph sync --full`), and `since` the vendor time
-- (UTC, to the second) the next incremental sync lists from.
ALTER TABLE graph_sync ADD COLUMN full_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE graph_sync ADD COLUMN full_asked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE graph_sync ADD COLUMN since TEXT NOT NULL DEFAULT '';
