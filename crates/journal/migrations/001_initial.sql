-- An asset is the bytes of one camera file, identified by their SHA-256: the same frame
-- from a second card slot, a re-inserted card or a renamed file is the same asset.
CREATE TABLE assets (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT    NOT NULL UNIQUE,
    size         INTEGER NOT NULL CHECK (size >= 0),
    capture_time TEXT,
    camera       TEXT,
    rating       INTEGER,
    first_seen   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Where an asset was seen. A path whose size and mtime are unchanged is not hashed again.
CREATE TABLE sources (
    path     TEXT    PRIMARY KEY,
    asset_id INTEGER NOT NULL REFERENCES assets (id),
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);

-- One rendition per asset and preset; `ready` only with its cached file's hash and size.
CREATE TABLE renditions (
    id         INTEGER PRIMARY KEY,
    asset_id   INTEGER NOT NULL REFERENCES assets (id),
    preset     TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    cache_path TEXT,
    sha256     TEXT,
    size       INTEGER,
    error      TEXT,
    UNIQUE (asset_id, preset),
    CHECK (state <> 'ready' OR (cache_path IS NOT NULL AND sha256 IS NOT NULL AND size IS NOT NULL))
);

-- One upload per destination and content: the same bytes are sent to a destination once.
-- `preset` NULL is the camera original. `offset` is what the server acknowledged.
CREATE TABLE uploads (
    id          INTEGER PRIMARY KEY,
    asset_id    INTEGER NOT NULL REFERENCES assets (id),
    preset      TEXT,
    destination TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    state       TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'verified', 'failed')),
    url         TEXT,
    offset      INTEGER NOT NULL DEFAULT 0 CHECK (offset >= 0 AND offset <= size),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    UNIQUE (destination, sha256),
    CHECK (state <> 'verified' OR (url IS NOT NULL AND offset = size))
);
CREATE INDEX uploads_by_state ON uploads (state);

-- Every state change, written in the same transaction as the change itself.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kind    TEXT    NOT NULL,
    subject INTEGER,
    detail  TEXT
);
