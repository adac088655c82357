-- Which uploads go first within a lane: higher first (a rated pick, the newest tethered
-- frame). Renditions still go before originals whatever their priority.
ALTER TABLE uploads ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX uploads_by_order ON uploads (destination, state, priority DESC, id);
