-- Bearer tokens, stored as the SHA-256 of the token (hex). A name is unique among live
-- tokens; a revoked token keeps its row, so a name can be given out again.
CREATE TABLE tokens (
    id      bigserial PRIMARY KEY,
    name    text    NOT NULL,
    hash    text    NOT NULL UNIQUE,
    admin   boolean NOT NULL DEFAULT false,
    created bigint  NOT NULL,
    revoked bigint
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked IS NULL;
