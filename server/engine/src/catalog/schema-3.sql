-- Version 3: the words Trove knows for each image, and the keyword index over them.

-- What a text reader (OCR) found in an image's pixels: one row per image, for the reader that
-- read it last. Empty text records that it found no words, so the image is not read again
-- until the reader changes.
CREATE TABLE image_text (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    reader TEXT NOT NULL,               -- the reader and its weights, e.g. paddleocr/pp-ocrv4@1a2b…
    text TEXT NOT NULL,                 -- the lines read, one per line
    lines TEXT NOT NULL,                -- JSON: [{"text", "confidence", "quad": [[x, y] × 4]}]
    read_at INTEGER NOT NULL            -- unix seconds
);
CREATE INDEX image_text_reader ON image_text(reader);

-- The keyword index: one row per image (rowid = images.id), derived from the tables above and
-- rebuilt from them whenever an image's words change. The trigram tokenizer matches any
-- substring of three characters or more, folding case and accents; shorter terms are matched
-- with LIKE on the same columns.
CREATE VIRTUAL TABLE keyword_index USING fts5(
    words,                              -- read from the pixels (image_text)
    names,                              -- the names of its files and of their folders
    facts,                              -- camera, lens, capture date in words
    captions,                           -- reserved for generated captions
    tags,                               -- reserved for tags
    keywords,                           -- reserved for catalog and embedded keywords
    tokenize = 'trigram remove_diacritics 1'
);

-- What each image's keyword row holds (the triggers below insert from it).
CREATE VIEW keyword_rows AS
SELECT
    i.id AS id,
    coalesce((SELECT t.text FROM image_text t WHERE t.image_id = i.id), '') AS words,
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
        END) AS facts
FROM images i;


-- The keyword index follows the tables it is made from. One image's row is remade from its
-- words, the names of its files (the library folder's own name, then the path inside it) and
-- its camera facts and capture date (year, month name, day).
CREATE TRIGGER keywords_file_added AFTER INSERT ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_file_removed AFTER DELETE ON files BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_file_changed AFTER UPDATE OF path, image_id ON files BEGIN
    DELETE FROM keyword_index WHERE rowid IN (OLD.image_id, NEW.image_id);
    INSERT INTO keyword_index (rowid, words, names, facts)
        SELECT * FROM keyword_rows WHERE id IN (OLD.image_id, NEW.image_id);
END;
CREATE TRIGGER keywords_text_added AFTER INSERT ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_changed AFTER UPDATE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = NEW.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows WHERE id = NEW.image_id;
END;
CREATE TRIGGER keywords_text_removed AFTER DELETE ON image_text BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.image_id;
    INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows WHERE id = OLD.image_id;
END;
CREATE TRIGGER keywords_image_removed AFTER DELETE ON images BEGIN
    DELETE FROM keyword_index WHERE rowid = OLD.id;
END;

-- The images a catalog already holds.
INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows;
