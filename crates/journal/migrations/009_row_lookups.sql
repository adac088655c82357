-- The queue's rows are read per asset, ten times a second for the rows that changed: each
-- read must find the asset's uploads and sources by index. Without these, each changed
-- row scanned every upload at the destination and every source (with 10,000 photos queued
-- and ~200 row updates a second, SQLite took about 29 % of two cores in the app).
CREATE INDEX uploads_by_asset ON uploads (asset_id, destination);
CREATE INDEX sources_by_asset ON sources (asset_id);
