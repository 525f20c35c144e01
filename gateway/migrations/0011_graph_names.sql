-- Customer names as the vendor lists them, kept with the relationship graph so audit output
-- can mask them wherever they appear in free text (memos, reasons, vendor messages).
CREATE TABLE graph_names (
    customer_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL
);
