-- Which uploads go first within a lane: higher first (a rated pick, the newest tethered
-- frame). Renditions still go before originals whatever their priority.
ALTER TABLE uploads ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
-- The scheduler asks for the next upload once per file: this index hands it over in order
-- without sorting the whole queue (10,000 files and more).
CREATE INDEX uploads_to_send ON uploads (destination, preset IS NULL, priority DESC, id)
    WHERE state IN ('queued', 'sending');
