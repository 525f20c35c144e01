-- The syncer's place in the incremental and full syncs, kept where a gateway taking over
-- the lease finds it: `full_at` is when the last full sync began (Unix ms), `full_asked` when
-- one was last asked for by hand (`tiergate graph sync --full`), and `since` the vendor time
-- (UTC, to the second) the next incremental sync lists from.
ALTER TABLE graph_sync ADD COLUMN full_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE graph_sync ADD COLUMN full_asked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE graph_sync ADD COLUMN since TEXT NOT NULL DEFAULT '';
-- While a first sync runs (nothing stored yet), the owners it lists in order (a JSON array:
-- the distributor, then its resellers) and how many of them are listed: the other gateways
-- serve those, as the syncer does, from the rows it stores as it goes. Cleared when the
-- whole graph is stored.
ALTER TABLE graph_sync ADD COLUMN first_owners TEXT NOT NULL DEFAULT '';
ALTER TABLE graph_sync ADD COLUMN first_listed BIGINT NOT NULL DEFAULT 0;
