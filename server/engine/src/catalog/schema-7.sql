-- Version 7: what files say about themselves. The XMP and IPTC inside an image file, and the XMP
-- sidecar beside it (`photo.xmp`, `photo.jpg.xmp`), are kept as two more sources of the kinds
-- 'embedded' and 'sidecar', one photo row per file (external_id = files.id), so their keywords,
-- titles, captions, ratings and labels reach the keyword index, the filters and the lightbox as
-- an imported catalog's do.

INSERT INTO sources (kind, path, version, imported_at) VALUES ('embedded', X'', 'xmp+iptc', 0);
INSERT INTO sources (kind, path, version, imported_at) VALUES ('sidecar', X'00', 'xmp', 0);

-- Which files' own metadata has been read, and with which sidecar (its size and date tell the
-- next crawl whether to read it again). A file without a row is read at the next crawl, so a
-- catalog made before this version learns what its files say.
CREATE TABLE file_metadata (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    sidecar BLOB,                   -- the sidecar's path, as the OS spells it; NULL without one
    sidecar_size INTEGER,
    sidecar_mtime_ns INTEGER
);
CREATE INDEX file_metadata_sidecar ON file_metadata(sidecar);

-- A file gone takes what it said with it.
CREATE TRIGGER file_described_removed AFTER DELETE ON files BEGIN
    DELETE FROM source_photos
     WHERE external_id = OLD.id
       AND source_id IN (SELECT id FROM sources WHERE kind IN ('embedded', 'sidecar'));
END;
