-- Trove's catalog, version 1. SQLite is the source of truth: the vector index is a cache
-- rebuilt (or caught up) from the embeddings here, and thumbnails a cache rebuilt from the
-- original files these rows point at.

-- Library root folders.
CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,          -- the folder, as the OS spells it
    added_at INTEGER NOT NULL           -- unix seconds
);

-- One row per distinct content (BLAKE3 of the file's bytes): moved, renamed and duplicate
-- files share it, and with it the embedding.
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,          -- 32 bytes
    format TEXT NOT NULL,               -- jpeg, png, webp, gif, tiff, bmp, heic
    width INTEGER NOT NULL,             -- as displayed (EXIF orientation applied)
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    taken_at TEXT,                      -- EXIF DateTimeOriginal, ISO 8601, camera local time
    camera_make TEXT,
    camera_model TEXT,
    lens TEXT,
    gps_lat REAL,
    gps_lon REAL,
    orientation INTEGER,                -- EXIF orientation 1-8 as stored in the file
    added_at INTEGER NOT NULL
);

-- Files on disk. A file points at its content; several files may share one image.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path BLOB NOT NULL UNIQUE,          -- absolute, as the OS spells it (may not be UTF-8)
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id),
    seen_crawl INTEGER NOT NULL         -- the last crawl that saw it
);
CREATE INDEX files_image ON files(image_id);
CREATE INDEX files_root_seen ON files(root_id, seen_crawl);

-- Embedding models, by the id given to --model.
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dim INTEGER NOT NULL
);

-- L2-normalised embeddings, little-endian f32, one per image and model.
CREATE TABLE embeddings (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    PRIMARY KEY (image_id, model_id)
) WITHOUT ROWID;
CREATE INDEX embeddings_model ON embeddings(model_id);

-- Files that could not be indexed, with a reason a person understands.
CREATE TABLE skipped (
    path BLOB PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    seen_crawl INTEGER NOT NULL
);

-- One row per crawl.
CREATE TABLE crawls (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    state TEXT NOT NULL,                -- running, done, stopped, failed, interrupted
    files_seen INTEGER NOT NULL DEFAULT 0,
    embedded INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    message TEXT
);
