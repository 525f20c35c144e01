-- Relationships one gateway learns from answers reach the others: each write of learned
-- edges takes the next number from graph_sync.learned and marks its rows with it; every
-- gateway reads the rows past the last number it has seen. A sync's rows are 0.
ALTER TABLE graph_sync ADD COLUMN learned BIGINT NOT NULL DEFAULT 0;
ALTER TABLE graph_edges ADD COLUMN learned BIGINT NOT NULL DEFAULT 0;
CREATE INDEX graph_edges_learned ON graph_edges (learned);
