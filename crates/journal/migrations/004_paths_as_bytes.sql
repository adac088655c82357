-- Paths are stored as the bytes of the name (BLOB), not as text: a name that is not valid
-- UTF-8 (Latin-1 on an old card) must come back exactly. Text already stored is UTF-8,
-- which is what those bytes are for a valid Unicode name.
UPDATE sources SET path = CAST(path AS BLOB);
UPDATE renditions SET cache_path = CAST(cache_path AS BLOB) WHERE cache_path IS NOT NULL;
