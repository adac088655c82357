-- The name an upload goes under when a source's rename template made one (the stem: a
-- rendition adds `_<preset>.jpg`, an original its extension); NULL: the camera's name.
ALTER TABLE uploads ADD COLUMN name TEXT;
