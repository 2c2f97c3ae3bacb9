//! Lightroom catalogs made to order, in the schema real ones have: the tables and columns
//! Lightroom Classic writes (as the public schema dumps of LrC 13.0, 13.x and 14.1 show them,
//! and Lightroom 5's where it differs), with Lightroom's own quirks: untyped columns, `pick` as a
//! real number, `rating` NULL when unrated, `''` for no colour label, a nameless root keyword,
//! the XMP compressed (Classic) or plain (5), `imageId` stored as a real in `previews.db`. For
//! tests, benchmarks and `trove synth --lightroom`; Trove never writes a user's catalog.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::lrprev::section;

/// Which release's tables to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Lightroom 5 (`Adobe_DBVersion` 0500006): plain-text XMP, no `editLock`, no `parentId`.
    Lr5,
    /// Lightroom Classic 13.0 (compressed XMP).
    Classic13,
    /// Lightroom Classic 14.1 (adds the IPTC accessibility columns).
    Classic14,
}

/// One photo to put in a catalog.
#[derive(Debug, Clone, Default)]
pub struct Photo {
    /// Folder below the root, `/`-separated, no trailing `/` (`""` for the root itself).
    pub folder: String,
    /// File name with extension.
    pub name: String,
    /// `captureTime`.
    pub capture: Option<String>,
    /// Stars.
    pub rating: Option<u8>,
    /// 1 pick, -1 reject, 0 none.
    pub pick: i8,
    /// Colour label.
    pub label: String,
    /// Title (in the XMP).
    pub title: Option<String>,
    /// Caption (IPTC).
    pub caption: Option<String>,
    /// Keyword paths, `|`-separated (`Places|Japan|Tokyo`); a leading `@` makes the last a person.
    pub keywords: Vec<String>,
    /// Collection names (a `/` puts it in a collection set: `Travel/Japan 2023`).
    pub collections: Vec<String>,
    /// Virtual copies: (copy name, extra keywords, extra collections).
    pub copies: Vec<(String, Vec<String>, Vec<String>)>,
    /// Preview levels to write (JPEG bytes, smallest first); none, no preview.
    pub preview: Vec<Vec<u8>>,
    /// Cut the preview file to this many bytes (a truncated file).
    pub truncate_preview: Option<usize>,
}

/// A catalog being written.
pub struct Builder {
    conn: Connection,
    path: PathBuf,
    release: Release,
    root: i64,
    next: i64,
    previews: Option<Connection>,
}

impl Drop for Builder {
    /// Commits what was written (one transaction, so that big catalogs are quick to make).
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("COMMIT");
    }
}

impl Builder {
    /// Starts a catalog at `path` (which must not exist) for photos under `root` (an absolute
    /// folder).
    pub fn new(path: &Path, root: &Path, release: Release) -> rusqlite::Result<Builder> {
        let conn = Connection::open(path)?;
        conn.execute_batch(&schema(release))?;
        conn.execute_batch("BEGIN")?;
        let version = match release {
            Release::Lr5 => "0500006",
            Release::Classic13 => "1300000",
            Release::Classic14 => "1400000",
        };
        conn.execute(
            "INSERT INTO Adobe_variablesTable (id_global, name, type, value)
             VALUES ('v1', 'Adobe_DBVersion', '', ?1)",
            [version],
        )?;
        // The root keyword: no name, no parent.
        conn.execute(
            "INSERT INTO AgLibraryKeyword (id_local, id_global, genealogy, name, parent)
             VALUES (1, 'kroot', '/11', NULL, NULL)",
            [],
        )?;
        conn.execute(
            "INSERT INTO Adobe_variablesTable (id_global, name, type, value)
             VALUES ('v2', 'AgLibraryKeyword_rootTagID', '', 1.0)",
            [],
        )?;
        let mut abs = root.to_string_lossy().into_owned();
        if !abs.ends_with('/') {
            abs.push('/');
        }
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        conn.execute(
            "INSERT INTO AgLibraryRootFolder (id_local, id_global, absolutePath, name)
             VALUES (2, 'root', ?1, ?2)",
            params![abs, name],
        )?;
        Ok(Builder {
            conn,
            path: path.to_owned(),
            release,
            root: 2,
            next: 100,
            previews: None,
        })
    }

    fn id(&mut self) -> i64 {
        self.next += 1;
        self.next
    }

    fn folder(&mut self, folder: &str) -> rusqlite::Result<i64> {
        let path = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        if let Ok(id) = self.conn.query_row(
            "SELECT id_local FROM AgLibraryFolder WHERE pathFromRoot = ?1",
            [&path],
            |r| r.get(0),
        ) {
            return Ok(id);
        }
        let id = self.id();
        self.conn.execute(
            "INSERT INTO AgLibraryFolder (id_local, id_global, pathFromRoot, rootFolder)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, format!("folder-{id}"), path, self.root],
        )?;
        Ok(id)
    }

    fn keyword(&mut self, path: &str) -> rusqlite::Result<i64> {
        let (person, path) = match path.strip_prefix('@') {
            Some(p) => (true, p),
            None => (false, path),
        };
        let mut parent = 1;
        let parts: Vec<&str> = path.split('|').collect();
        for (i, part) in parts.iter().enumerate() {
            let found: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id_local FROM AgLibraryKeyword WHERE parent = ?1 AND lc_name = ?2",
                    params![parent, part.to_lowercase()],
                    |r| r.get(0),
                )
                .ok();
            parent = match found {
                Some(id) => id,
                None => {
                    let id = self.id();
                    let kind = (person && i + 1 == parts.len()).then_some("person");
                    self.conn.execute(
                        "INSERT INTO AgLibraryKeyword
                           (id_local, id_global, genealogy, keywordType, lc_name, name, parent)
                         VALUES (?1, ?2, '', ?3, ?4, ?5, ?6)",
                        params![
                            id,
                            format!("kw-{id}"),
                            kind,
                            part.to_lowercase(),
                            part,
                            parent
                        ],
                    )?;
                    id
                }
            };
        }
        Ok(parent)
    }

    fn collection(&mut self, name: &str) -> rusqlite::Result<i64> {
        let mut parent: Option<i64> = None;
        let parts: Vec<&str> = name.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let kind = if i + 1 == parts.len() {
                "com.adobe.ag.library.collection"
            } else {
                "com.adobe.ag.library.group"
            };
            let found: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id_local FROM AgLibraryCollection
                      WHERE name = ?1 AND parent IS ?2 AND creationId = ?3",
                    params![part, parent, kind],
                    |r| r.get(0),
                )
                .ok();
            parent = Some(match found {
                Some(id) => id,
                None => {
                    let id = self.id();
                    self.conn.execute(
                        "INSERT INTO AgLibraryCollection (id_local, creationId, name, parent)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![id, kind, part, parent],
                    )?;
                    id
                }
            });
        }
        Ok(parent.unwrap_or_default())
    }

    /// Adds a photo (and its virtual copies); returns its `Adobe_images.id_local`.
    pub fn photo(&mut self, p: &Photo) -> std::io::Result<i64> {
        self.photo_sql(p).map_err(std::io::Error::other)
    }

    fn photo_sql(&mut self, p: &Photo) -> rusqlite::Result<i64> {
        let folder = self.folder(&p.folder)?;
        let file = self.id();
        let (base, ext) = p.name.rsplit_once('.').unwrap_or((&p.name, ""));
        let file_uuid = format!("{file:08X}-0000-4000-8000-{file:012X}");
        self.conn.execute(
            "INSERT INTO AgLibraryFile (id_local, id_global, baseName, extension, folder,
               idx_filename, lc_idx_filename, lc_idx_filenameExtension, originalFilename)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?6)",
            params![
                file,
                file_uuid,
                base,
                ext,
                folder,
                p.name,
                p.name.to_lowercase(),
                ext.to_lowercase()
            ],
        )?;
        let master = self.image(p, file, None, None, &p.keywords, &p.collections)?;
        for (name, keywords, collections) in &p.copies {
            self.image(p, file, Some(master), Some(name), keywords, collections)?;
        }
        if !p.preview.is_empty() {
            self.preview(master, &file_uuid, p)?;
        }
        Ok(master)
    }

    fn image(
        &mut self,
        p: &Photo,
        file: i64,
        master: Option<i64>,
        copy_name: Option<&str>,
        keywords: &[String],
        collections: &[String],
    ) -> rusqlite::Result<i64> {
        let id = self.id();
        let is_copy = master.is_some();
        self.conn.execute(
            "INSERT INTO Adobe_images (id_local, id_global, captureTime, colorLabels, copyName,
               fileFormat, masterImage, pick, rating, rootFile, orientation)
             VALUES (?1, ?2, ?3, ?4, ?5, 'JPG', ?6, ?7, ?8, ?9, 'AB')",
            params![
                id,
                format!("img-{id}"),
                p.capture,
                if is_copy { "" } else { p.label.as_str() },
                copy_name,
                master,
                if is_copy { 0.0 } else { f64::from(p.pick) },
                if is_copy { None } else { p.rating },
                file
            ],
        )?;
        if !is_copy {
            if let Some(caption) = &p.caption {
                self.conn.execute(
                    "INSERT INTO AgLibraryIPTC (image, caption) VALUES (?1, ?2)",
                    params![id, caption],
                )?;
            }
        }
        let xmp = xmp_packet(if is_copy { None } else { p.title.as_deref() });
        let value: rusqlite::types::Value = match self.release {
            Release::Lr5 => xmp.into(),
            Release::Classic13 | Release::Classic14 => crate::media::xmp::compress(&xmp).into(),
        };
        self.conn.execute(
            "INSERT INTO Adobe_AdditionalMetadata (id_global, image, xmp) VALUES (?1, ?2, ?3)",
            params![format!("am-{id}"), id, value],
        )?;
        for k in keywords {
            let tag = self.keyword(k)?;
            self.conn.execute(
                "INSERT INTO AgLibraryKeywordImage (image, tag) VALUES (?1, ?2)",
                params![id, tag],
            )?;
        }
        for c in collections {
            let collection = self.collection(c)?;
            self.conn.execute(
                "INSERT INTO AgLibraryCollectionImage (collection, image) VALUES (?1, ?2)",
                params![collection, id],
            )?;
        }
        Ok(id)
    }

    fn preview(&mut self, image: i64, uuid: &str, p: &Photo) -> rusqlite::Result<()> {
        let dir = super::previews_dir(&self.path);
        if self.previews.is_none() {
            std::fs::create_dir_all(&dir).map_err(io_err)?;
            let conn = Connection::open(dir.join("previews.db"))?;
            conn.execute_batch(PREVIEWS_SCHEMA)?;
            self.previews = Some(conn);
        }
        let digest = format!("{:032x}", image as u128 * 0x9E37_79B9_7F4A_7C15);
        let previews = self.previews.as_ref().expect("opened above");
        previews.execute(
            "INSERT INTO ImageCacheEntry (imageId, uuid, digest, orientation) VALUES (?1, ?2, ?3, 'AB')",
            params![image as f64, uuid, digest],
        )?;
        previews.execute(
            "INSERT INTO Pyramid (uuid, digest, colorProfile, quality, croppedWidth, croppedHeight)
             VALUES (?1, ?2, 'AdobeRGB', 'final', 0, 0)",
            params![uuid, digest],
        )?;
        let mut bytes = section("header", b"pyramid = { formatVersion = 3, }");
        for (i, level) in p.preview.iter().enumerate() {
            bytes.extend(section(&format!("level_{}", i + 1), level));
        }
        if let Some(n) = p.truncate_preview {
            bytes.truncate(n);
        }
        let shard = dir.join(&uuid[..1]).join(&uuid[..4]);
        std::fs::create_dir_all(&shard).map_err(io_err)?;
        std::fs::write(shard.join(format!("{uuid}-{digest}.lrprev")), bytes).map_err(io_err)?;
        Ok(())
    }
}

fn io_err(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// An XMP packet with a title, as Lightroom keeps one per photo.
fn xmp_packet(title: Option<&str>) -> String {
    let title = title.map_or(String::new(), |t| {
        let t = t
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        format!(
            "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{t}</rdf:li></rdf:Alt></dc:title>"
        )
    });
    format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
         <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">{title}</rdf:Description>\
         </rdf:RDF></x:xmpmeta>"
    )
}

/// The catalog tables Trove reads, with every column Lightroom gives them, plus the variables
/// table; the release decides the columns that came and went.
fn schema(release: Release) -> String {
    let classic = release != Release::Lr5;
    let edit_lock = if classic {
        "editLock INTEGER NOT NULL DEFAULT 0,"
    } else {
        ""
    };
    let folder_extra = if classic {
        "parentId INTEGER, visibility INTEGER,"
    } else {
        ""
    };
    let iptc_extra = if release == Release::Classic14 {
        "altTextAccessibility, extDescrAccessibility,"
    } else {
        ""
    };
    format!(
        "PRAGMA journal_mode = DELETE;
        CREATE TABLE Adobe_variablesTable (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            name, type, value NOT NULL DEFAULT '');
        CREATE TABLE Adobe_images (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            aspectRatioCache NOT NULL DEFAULT -1, bitDepth NOT NULL DEFAULT 0, captureTime,
            colorChannels NOT NULL DEFAULT 0, colorLabels NOT NULL DEFAULT '',
            colorMode NOT NULL DEFAULT -1, copyCreationTime NOT NULL DEFAULT -63113817600,
            copyName, copyReason, developSettingsIDCache, {edit_lock}
            fileFormat NOT NULL DEFAULT 'unset', fileHeight, fileWidth, hasMissingSidecars INTEGER,
            masterImage INTEGER, orientation, originalCaptureTime, originalRootEntity INTEGER,
            panningDistanceH, panningDistanceV, pick NOT NULL DEFAULT 0,
            positionInFolder NOT NULL DEFAULT 'z', propertiesCache, pyramidIDCache, rating,
            rootFile INTEGER NOT NULL DEFAULT 0, sidecarStatus, touchCount NOT NULL DEFAULT 0,
            touchTime NOT NULL DEFAULT 0);
        CREATE INDEX index_Adobe_images_rootFile ON Adobe_images(rootFile);
        CREATE INDEX index_Adobe_images_masterImage ON Adobe_images(masterImage);
        CREATE TABLE AgLibraryFile (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            baseName NOT NULL DEFAULT '', errorMessage, errorTime, extension NOT NULL DEFAULT '',
            externalModTime, folder INTEGER NOT NULL DEFAULT 0, idx_filename NOT NULL DEFAULT '',
            importHash, lc_idx_filename NOT NULL DEFAULT '',
            lc_idx_filenameExtension NOT NULL DEFAULT '', md5, modTime,
            originalFilename NOT NULL DEFAULT '', sidecarExtensions);
        CREATE UNIQUE INDEX index_AgLibraryFile_nameAndFolder ON AgLibraryFile(lc_idx_filename, folder);
        CREATE TABLE AgLibraryFolder (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            {folder_extra} pathFromRoot NOT NULL DEFAULT '', rootFolder INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX index_AgLibraryFolder_rootFolderAndPath ON AgLibraryFolder(rootFolder, pathFromRoot);
        CREATE TABLE AgLibraryRootFolder (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            absolutePath UNIQUE NOT NULL DEFAULT '', name NOT NULL DEFAULT '', relativePathFromCatalog);
        CREATE TABLE AgLibraryKeyword (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            dateCreated NOT NULL DEFAULT '', genealogy NOT NULL DEFAULT '', imageCountCache DEFAULT -1,
            includeOnExport INTEGER NOT NULL DEFAULT 1, includeParents INTEGER NOT NULL DEFAULT 1,
            includeSynonyms INTEGER NOT NULL DEFAULT 1, keywordType, lastApplied, lc_name, name,
            parent INTEGER);
        CREATE UNIQUE INDEX index_AgLibraryKeyword_parentAndLcName ON AgLibraryKeyword(parent, lc_name);
        CREATE TABLE AgLibraryKeywordImage (id_local INTEGER PRIMARY KEY,
            image INTEGER NOT NULL DEFAULT 0, tag INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX index_AgLibraryKeywordImage_tag ON AgLibraryKeywordImage(tag);
        CREATE INDEX index_AgLibraryKeywordImage_image ON AgLibraryKeywordImage(image);
        CREATE TABLE AgLibraryCollection (id_local INTEGER PRIMARY KEY, creationId NOT NULL DEFAULT '',
            genealogy NOT NULL DEFAULT '', imageCount, name NOT NULL DEFAULT '', parent INTEGER,
            systemOnly NOT NULL DEFAULT '');
        CREATE TABLE AgLibraryCollectionImage (id_local INTEGER PRIMARY KEY,
            collection INTEGER NOT NULL DEFAULT 0, image INTEGER NOT NULL DEFAULT 0,
            pick NOT NULL DEFAULT 0, positionInCollection);
        CREATE INDEX index_AgLibraryCollectionImage_collection ON AgLibraryCollectionImage(collection);
        CREATE INDEX index_AgLibraryCollectionImage_imageCollection ON AgLibraryCollectionImage(image, collection);
        CREATE TABLE AgLibraryIPTC (id_local INTEGER PRIMARY KEY, {iptc_extra} caption, copyright,
            image INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX index_AgLibraryIPTC_image ON AgLibraryIPTC(image);
        CREATE TABLE Adobe_AdditionalMetadata (id_local INTEGER PRIMARY KEY, id_global UNIQUE NOT NULL,
            additionalInfoSet INTEGER NOT NULL DEFAULT 0, embeddedXmp INTEGER NOT NULL DEFAULT 0,
            externalXmpIsDirty INTEGER NOT NULL DEFAULT 0, image INTEGER,
            incrementalWhiteBalance INTEGER NOT NULL DEFAULT 0, internalXmpDigest,
            isRawFile INTEGER NOT NULL DEFAULT 0, lastSynchronizedHash,
            lastSynchronizedTimestamp NOT NULL DEFAULT -63113817600, metadataPresetID,
            metadataVersion, monochrome INTEGER NOT NULL DEFAULT 0, xmp NOT NULL DEFAULT '');
        CREATE INDEX index_Adobe_AdditionalMetadata_imageAndStatus
            ON Adobe_AdditionalMetadata(image, externalXmpIsDirty);
        -- A smart collection, as every catalog has some: a rule, no members.
        INSERT INTO AgLibraryCollection (id_local, creationId, name)
            VALUES (3, 'com.adobe.ag.library.smart_collection', 'Five Stars');
        INSERT INTO AgLibraryCollection (id_local, creationId, name, systemOnly)
            VALUES (4, 'com.adobe.ag.library.collection', 'quick collection', 1);"
    )
}

/// `previews.db` as Lightroom writes it (the tables Trove reads).
const PREVIEWS_SCHEMA: &str = "
    CREATE TABLE StoreInfo (version NOT NULL);
    INSERT INTO StoreInfo VALUES ('12.0');
    CREATE TABLE Pyramid (uuid NOT NULL, digest NOT NULL, colorProfile NOT NULL, fileTimeStamp,
        quality NOT NULL, croppedWidth NOT NULL, croppedHeight NOT NULL, pyramidFileTimeStamp,
        fingerprint, fromProxy);
    CREATE UNIQUE INDEX index_uuid_digest ON Pyramid(uuid, digest);
    CREATE TABLE ImageCacheEntry (imageId NOT NULL, uuid NOT NULL, digest NOT NULL, orientation);
    CREATE UNIQUE INDEX index_ImageCacheEntry_imageId ON ImageCacheEntry (imageId);";
