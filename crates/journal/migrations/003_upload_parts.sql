-- A large file may go as partial uploads sent in parallel and then concatenated on the
-- server (tus concatenation). Each part is resumed on its own after a crash, so its URL is
-- kept here until the final upload is made; then the parts are forgotten.
CREATE TABLE upload_parts (
    upload_id INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    start INTEGER NOT NULL,
    length INTEGER NOT NULL,
    url TEXT,
    offset INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (upload_id, part)
) WITHOUT ROWID;
