-- Cards the engine has read, remembered while they are out: where each was last mounted,
-- whether it is mounted now, and the files it held (below its root, with size and mtime),
-- so that `wedsync cards` can say of a card in the photographer's pocket how many of its
-- files are safe to format.
CREATE TABLE cards (
    id        TEXT    PRIMARY KEY,   -- the file system's serial, else label-capacity-listing
    label     TEXT,
    capacity  INTEGER NOT NULL,
    mount     BLOB    NOT NULL,      -- where it was last mounted
    mounted   INTEGER NOT NULL CHECK (mounted IN (0, 1)),
    last_seen TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE card_files (
    card_id  TEXT    NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    path     BLOB    NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    PRIMARY KEY (card_id, path)
) WITHOUT ROWID;
