-- Verified copies of camera originals in local backup folders (the laptop's disk, an
-- external drive): each was written, synced, read back and found to have the asset's
-- SHA-256 before it was recorded here.
CREATE TABLE backups (
    path     BLOB    PRIMARY KEY,
    asset_id INTEGER NOT NULL REFERENCES assets (id),
    folder   BLOB    NOT NULL,
    at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX backups_by_asset ON backups (asset_id, folder);
