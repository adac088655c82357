-- Uploads, as the local store's SQLite table has them, plus where their bytes are in the
-- bucket and who may write them. Columns as in crates/ingest/src/store/cluster/.
CREATE TABLE uploads (
    id              text    PRIMARY KEY,
    owner           bigint  NOT NULL,
    idempotency_key text,
    length          bigint,
    "offset"        bigint  NOT NULL DEFAULT 0,
    metadata        text    NOT NULL,
    concat          text    NOT NULL DEFAULT 'none',
    parts           text[]  NOT NULL DEFAULT '{}',
    state           text    NOT NULL DEFAULT 'receiving',
    note            text,
    created         bigint  NOT NULL,
    expires         bigint,
    -- The bytes. Every part but the last is part_size bytes, fixed at creation.
    part_size       bigint  NOT NULL,
    -- The object's key in the bucket, chosen when its first part (or the whole object) is
    -- written, and the S3 multipart upload id while one is open.
    object_key      text,
    multipart       text,
    -- Set once the object holds every byte (a completed multipart upload or one PUT).
    finished        boolean NOT NULL DEFAULT false,
    -- The SHA-256 of every byte, computed as the parts were written.
    sha256          bytea,
    -- One writer at a time across instances: the lease's holder and end, and the fencing
    -- token, raised by every take-over; every write checks it.
    fence           bigint  NOT NULL DEFAULT 0,
    holder          text,
    lease_until     timestamptz
);
CREATE UNIQUE INDEX uploads_idempotency_key ON uploads (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND state NOT IN ('quarantined', 'failed');
CREATE INDEX uploads_owner_state ON uploads (owner, state);
CREATE INDEX uploads_state ON uploads (state, expires);
CREATE INDEX uploads_parts ON uploads USING gin (parts) WHERE concat = 'final';

-- The parts in the open multipart upload: the byte range each holds (part n starts at
-- n * part_size), its ETag, and the SHA-256 state after its last byte (so the whole
-- file's digest never needs the bytes read back).
CREATE TABLE upload_parts (
    upload     text    NOT NULL REFERENCES uploads ON DELETE CASCADE,
    start      bigint  NOT NULL,
    size       bigint  NOT NULL,
    etag       text    NOT NULL,
    hash_state bytea   NOT NULL,
    PRIMARY KEY (upload, start)
);

-- Bytes past the last whole part, kept here durably until a part is complete: a segment
-- per write, never crossing a part boundary.
CREATE TABLE upload_tail (
    upload text   NOT NULL REFERENCES uploads ON DELETE CASCADE,
    start  bigint NOT NULL,
    bytes  bytea  NOT NULL,
    PRIMARY KEY (upload, start)
);
