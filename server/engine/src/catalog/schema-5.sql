-- Version 5: what a picture shows in words: captions written by a captioner and tags given by
-- the embedding model, both in the keyword index.

-- The caption a captioner wrote for an image: one row per image, for the captioner that wrote
-- it last (an empty caption records that it wrote none, so the image is not captioned again
-- until the captioner changes).
CREATE TABLE image_captions (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    captioner TEXT NOT NULL,            -- the captioner, its weights and task, e.g. trove/demo-captioner@1a2b…/caption
    caption TEXT NOT NULL,
    made_at INTEGER NOT NULL            -- unix seconds
);
CREATE INDEX image_captions_captioner ON image_captions(captioner);

-- An image's tags, from the tagger that tagged it last (image_tagged).
CREATE TABLE image_tags (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag TEXT NOT NULL COLLATE NOCASE,
    score REAL NOT NULL,                -- the picture's cosine to the tag
    PRIMARY KEY (image_id, tag)
) WITHOUT ROWID;
CREATE INDEX image_tags_tag ON image_tags(tag);

-- Which tagger (model and weights, vocabulary, thresholds) tagged an image last; an image it
-- gave no tag has a row here and none in image_tags.
CREATE TABLE image_tagged (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    tagger TEXT NOT NULL,
    tagged_at INTEGER NOT NULL
);
CREATE INDEX image_tagged_tagger ON image_tagged(tagger);

-- Per model: its tag vocabulary embedded by its text tower, and the tags' thresholds. Deleted
-- with the model's embeddings when its weights change.
CREATE TABLE model_tags (
    model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    vocabulary TEXT NOT NULL,           -- its name and fingerprint
    names TEXT NOT NULL,                -- JSON list of the tags
    owners BLOB NOT NULL,               -- per vector row, the tag it stands for (u32, little-endian)
    vectors BLOB NOT NULL,              -- unit vectors, f32 little-endian, row-major
    thresholds TEXT,                    -- JSON list, one per tag (null: never fires); NULL: not calibrated yet
    calibration TEXT,                   -- how: "labelled" or "library of N pictures"
    calibrated_images INTEGER           -- library pictures the thresholds came from
);

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
        AS tags
FROM images i;

DROP TRIGGER keywords_file_added;
DROP TRIGGER keywords_file_removed;
DROP TRIGGER keywords_file_changed;
DROP TRIGGER keywords_text_added;
DROP TRIGGER keywords_text_changed;
DROP TRIGGER keywords_text_removed;

CREATE TRIGGER keywords_file_added AFTER INSERT ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_file_removed AFTER DELETE ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_file_changed AFTER UPDATE OF path, image_id ON files BEGIN
    DELETE FROM keyword_index WHERE rowid IN (OLD.image_id, NEW.image_id);
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags)
        SELECT * FROM keyword_rows WHERE id IN (OLD.image_id, NEW.image_id);
END;
CREATE TRIGGER keywords_text_added AFTER INSERT ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_changed AFTER UPDATE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_removed AFTER DELETE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_caption_added AFTER INSERT ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_caption_changed AFTER UPDATE ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_caption_removed AFTER DELETE ON image_captions BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_tags_added AFTER INSERT ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_tags_changed AFTER UPDATE ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_tags_removed AFTER DELETE ON image_tagged BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts, captions, tags) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
