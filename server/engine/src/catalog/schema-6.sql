-- Version 6: what photographers' catalogs say about the pictures (Lightroom Classic first),
-- copied in read-only by `trove import`, and in the keyword index's `keywords` column.

-- An imported catalog. Removing it (ON DELETE CASCADE) removes everything it brought.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- 'lightroom'
    path BLOB NOT NULL UNIQUE,          -- the catalog file, as the OS spells it
    version TEXT NOT NULL,              -- the catalog's own version (Lightroom: Adobe_DBVersion)
    imported_at INTEGER NOT NULL        -- unix seconds of the last import
);

-- One photo of an imported catalog (virtual copies folded into their master), matched to the
-- Trove image of its file when Trove has one (by path; the trigger below matches files crawled
-- later).
CREATE TABLE source_photos (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    external_id INTEGER NOT NULL,       -- the catalog's id (Lightroom: Adobe_images.id_local)
    path BLOB NOT NULL,                 -- the original, as the catalog has it
    stand_in BLOB,                      -- a preview Trove indexes in its place, if any
    image_id INTEGER REFERENCES images(id) ON DELETE SET NULL,
    matched_by TEXT,                    -- 'path', 'name and date' or 'preview'
    taken_at TEXT,                      -- the catalog's capture time
    rating INTEGER,                     -- 0-5, NULL when unrated
    flag INTEGER NOT NULL DEFAULT 0,    -- 1 pick, -1 rejected, 0 neither
    label TEXT,                         -- colour label
    title TEXT,
    caption TEXT,
    PRIMARY KEY (source_id, external_id)
) WITHOUT ROWID;
CREATE INDEX source_photos_image ON source_photos(image_id);
CREATE INDEX source_photos_path ON source_photos(path);
CREATE INDEX source_photos_stand_in ON source_photos(stand_in);

-- A photo's keywords: the keyword and the keywords above it, outermost first, ' > ' between.
CREATE TABLE source_keywords (
    source_id INTEGER NOT NULL,
    external_id INTEGER NOT NULL,
    keyword TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    person INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, external_id, path),
    FOREIGN KEY (source_id, external_id) REFERENCES source_photos(source_id, external_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX source_keywords_keyword ON source_keywords(keyword);

-- The collections a photo is in, by name with their sets ('Travel / Japan 2023').
CREATE TABLE source_collections (
    source_id INTEGER NOT NULL,
    external_id INTEGER NOT NULL,
    collection TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (source_id, external_id, collection),
    FOREIGN KEY (source_id, external_id) REFERENCES source_photos(source_id, external_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX source_collections_collection ON source_collections(collection);

-- Files crawled after an import find their photo by path (or by the stand-in's path).
CREATE TRIGGER sources_match_file AFTER INSERT ON files BEGIN
    UPDATE source_photos SET image_id = NEW.image_id,
           matched_by = CASE WHEN path = NEW.path THEN 'path' ELSE 'preview' END
     WHERE (path = NEW.path OR stand_in = NEW.path) AND image_id IS NOT NEW.image_id;
END;
CREATE TRIGGER sources_match_moved AFTER UPDATE OF path, image_id ON files BEGIN
    UPDATE source_photos SET image_id = NEW.image_id,
           matched_by = CASE WHEN path = NEW.path THEN 'path' ELSE 'preview' END
     WHERE (path = NEW.path OR stand_in = NEW.path) AND image_id IS NOT NEW.image_id;
END;

DROP VIEW keyword_rows;

CREATE VIEW keyword_rows AS
SELECT
    i.id AS id,
    coalesce((SELECT replace(t.text, char(10), ' ') FROM image_text t WHERE t.image_id = i.id), '')
        AS words,
    coalesce((
        SELECT group_concat(
            substr(CAST(r.path AS TEXT),
                   length(rtrim(CAST(r.path AS TEXT), replace(CAST(r.path AS TEXT), '/', ''))) + 1)
                || '/' || CAST(substr(f.path, length(r.path) + 2) AS TEXT),
            char(10))
        FROM files f JOIN roots r ON r.id = f.root_id
        WHERE f.image_id = i.id), '') AS names,
    trim(
        coalesce(i.camera_make, '') || ' ' || coalesce(i.camera_model, '') || ' ' ||
        coalesce(i.lens, '') || ' ' ||
        CASE WHEN i.taken_at IS NULL THEN '' ELSE
            substr(i.taken_at, 1, 4) || ' ' ||
            CASE substr(i.taken_at, 6, 2)
                WHEN '01' THEN 'January' WHEN '02' THEN 'February' WHEN '03' THEN 'March'
                WHEN '04' THEN 'April' WHEN '05' THEN 'May' WHEN '06' THEN 'June'
                WHEN '07' THEN 'July' WHEN '08' THEN 'August' WHEN '09' THEN 'September'
                WHEN '10' THEN 'October' WHEN '11' THEN 'November' WHEN '12' THEN 'December'
                ELSE '' END || ' ' || substr(i.taken_at, 1, 10)
        END) AS facts,
    coalesce((SELECT c.caption FROM image_captions c WHERE c.image_id = i.id), '') AS captions,
    coalesce((SELECT group_concat(g.tag, char(10)) FROM image_tags g WHERE g.image_id = i.id), '')
        AS tags,
    coalesce((
        SELECT group_concat(line, char(10)) FROM (
            SELECT p.title AS line FROM source_photos p WHERE p.image_id = i.id AND p.title <> ''
            UNION ALL SELECT p.caption FROM source_photos p WHERE p.image_id = i.id AND p.caption <> ''
            UNION ALL SELECT p.label FROM source_photos p WHERE p.image_id = i.id AND p.label <> ''
            UNION ALL SELECT k.path FROM source_photos p JOIN source_keywords k
                ON k.source_id = p.source_id AND k.external_id = p.external_id WHERE p.image_id = i.id
            UNION ALL SELECT c.collection FROM source_photos p JOIN source_collections c
                ON c.source_id = p.source_id AND c.external_id = p.external_id WHERE p.image_id = i.id)),
        '') AS keywords
FROM images i;

-- Every trigger now fills the keywords column too.
DROP TRIGGER keywords_file_added;
DROP TRIGGER keywords_file_removed;
DROP TRIGGER keywords_file_changed;
DROP TRIGGER keywords_text_added;
DROP TRIGGER keywords_text_changed;
DROP TRIGGER keywords_text_removed;
DROP TRIGGER keywords_caption_added;
DROP TRIGGER keywords_caption_changed;
DROP TRIGGER keywords_caption_removed;
DROP TRIGGER keywords_tags_added;
DROP TRIGGER keywords_tags_changed;
DROP TRIGGER keywords_tags_removed;

CREATE TRIGGER keywords_file_added AFTER INSERT ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_file_removed AFTER DELETE ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_file_changed AFTER UPDATE OF path, image_id ON files BEGIN
    DELETE FROM keyword_index WHERE rowid IN (OLD.image_id, NEW.image_id);
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords)
        SELECT * FROM keyword_rows WHERE id IN (OLD.image_id, NEW.image_id);
END;
CREATE TRIGGER keywords_text_added AFTER INSERT ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_changed AFTER UPDATE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_removed AFTER DELETE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_caption_added AFTER INSERT ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_caption_changed AFTER UPDATE ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_caption_removed AFTER DELETE ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_tags_added AFTER INSERT ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_tags_changed AFTER UPDATE ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_tags_removed AFTER DELETE ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;

-- An imported photo's row changes with its match and its facts. Keywords and collections are
-- written before their photo is matched (the importer matches last), so the photo's own
-- triggers see them.
CREATE TRIGGER keywords_source_added AFTER INSERT ON source_photos BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_source_changed AFTER UPDATE ON source_photos BEGIN
    DELETE FROM keyword_index WHERE rowid IN (OLD.image_id, NEW.image_id);
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords)
        SELECT * FROM keyword_rows WHERE id IN (OLD.image_id, NEW.image_id);
END;
CREATE TRIGGER keywords_source_removed AFTER DELETE ON source_photos BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;

-- The images a catalog already holds, with the new column.
DELETE FROM keyword_index;
INSERT INTO keyword_index (rowid, words, names, facts, captions, tags, keywords) SELECT * FROM keyword_rows;
