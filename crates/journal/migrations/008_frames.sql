-- What makes two camera files one photograph.
-- `picture`: the SHA-256 of the file's image data alone (not its metadata), with its capture
-- time and body, so a rating set in the camera or a caption written by another tool after
-- the frame was recorded is the same asset, not a second one. NULL where the file's layout
-- is not known.
-- `companion_of`: the camera JPEG shot with a RAW (same folder and name, same capture time
-- and body) belongs to the RAW's asset: it is copied and sent as an original, never
-- developed into a second photo.
-- `body`: the camera body (its serial number where the file has one, else its model), with
-- the capture time what tells two cameras' IMG_0001 apart.
-- `label`: the colour label an editor gave the frame (XMP).
ALTER TABLE assets ADD COLUMN picture TEXT;
ALTER TABLE assets ADD COLUMN companion_of INTEGER REFERENCES assets (id);
ALTER TABLE assets ADD COLUMN body TEXT;
ALTER TABLE assets ADD COLUMN label TEXT;
CREATE INDEX assets_by_picture ON assets (picture);
CREATE INDEX assets_by_companion ON assets (companion_of);
