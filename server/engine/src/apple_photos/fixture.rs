//! Photos libraries for tests, in the shape each release's database has as osxphotos reads it
//! (`_constants.py`'s `_DB_TABLE_NAMES` and model versions): the asset table's name, the join
//! tables' entity numbers and the face columns move between releases; the tables and columns
//! Trove reads are created with Core Data's names and types, the rest of Apple's schema is not.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

/// A Photos release, by the database shape it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Photos 5, macOS 10.15 (model 13703).
    Photos5,
    /// Photos 6, macOS 11 (model 14104).
    Photos6,
    /// Photos 7, macOS 12 (model 15323).
    Photos7,
    /// Photos 8, macOS 13 (model 16320).
    Photos8,
    /// Photos 9, macOS 14.0–14.5 (model 17120).
    Photos9,
    /// Photos 9, macOS 14.6 (model 17700).
    Photos9_6,
    /// Photos 10, macOS 15 (model 18402).
    Photos10,
}

impl Release {
    /// Every release, oldest first.
    pub const ALL: [Release; 7] = [
        Release::Photos5,
        Release::Photos6,
        Release::Photos7,
        Release::Photos8,
        Release::Photos9,
        Release::Photos9_6,
        Release::Photos10,
    ];

    /// Its `PLModelVersion`.
    pub fn model_version(self) -> i64 {
        match self {
            Release::Photos5 => 13703,
            Release::Photos6 => 14104,
            Release::Photos7 => 15323,
            Release::Photos8 => 16320,
            Release::Photos9 => 17120,
            Release::Photos9_6 => 17700,
            Release::Photos10 => 18402,
        }
    }

    /// (asset table, keyword entity, album entity, asset entity, face asset, face person).
    fn names(self) -> (&'static str, u32, u32, u32, &'static str, &'static str) {
        match self {
            Release::Photos5 => ("ZGENERICASSET", 37, 26, 34, "ZASSET", "ZPERSON"),
            Release::Photos6 => ("ZASSET", 36, 26, 3, "ZASSET", "ZPERSON"),
            Release::Photos7 => ("ZASSET", 38, 27, 3, "ZASSET", "ZPERSON"),
            Release::Photos8 => ("ZASSET", 40, 28, 3, "ZASSET", "ZPERSON"),
            Release::Photos9 => ("ZASSET", 40, 28, 3, "ZASSETFORFACE", "ZPERSONFORFACE"),
            Release::Photos9_6 => ("ZASSET", 41, 29, 3, "ZASSETFORFACE", "ZPERSONFORFACE"),
            Release::Photos10 => ("ZASSET", 47, 30, 3, "ZASSETFORFACE", "ZPERSONFORFACE"),
        }
    }
}

/// One photo to add.
#[derive(Debug, Clone, Default)]
pub struct Photo {
    /// Its UUID (the original is `originals/<first letter>/<uuid>.<ext>`).
    pub uuid: String,
    /// The original's extension.
    pub ext: String,
    /// The file's name when it was imported.
    pub original_name: String,
    /// Seconds since 2001-01-01 UTC.
    pub created: f64,
    /// Its time zone, seconds from UTC.
    pub tz_offset: i64,
    /// A favourite.
    pub favorite: bool,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Albums: the folders above it, then its name.
    pub albums: Vec<Vec<String>>,
    /// People named in it.
    pub people: Vec<String>,
    /// In the trash.
    pub trashed: bool,
    /// A movie rather than a photo.
    pub movie: bool,
}

/// Builds `<library>/database/Photos.sqlite`.
pub struct Builder {
    conn: Connection,
    library: PathBuf,
    release: Release,
    next: i64,
    root_folder: i64,
}

impl Builder {
    /// An empty library of `release` at `library`.
    pub fn new(library: &Path, release: Release) -> rusqlite::Result<Builder> {
        let db = library.join("database");
        std::fs::create_dir_all(&db).map_err(io_err)?;
        let conn = Connection::open(db.join("Photos.sqlite"))?;
        let (asset, kw, album, asset_ent, face_asset, face_person) = release.names();
        conn.execute_batch(&format!(
            "CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
             CREATE TABLE {asset} (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
               ZKIND INTEGER, ZFAVORITE INTEGER, ZHIDDEN INTEGER, ZTRASHEDSTATE INTEGER,
               ZDATECREATED TIMESTAMP, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR, ZUUID VARCHAR);
             CREATE TABLE ZADDITIONALASSETATTRIBUTES (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER,
               ZASSET INTEGER, ZASSETDESCRIPTION INTEGER, ZTIMEZONEOFFSET INTEGER,
               ZORIGINALFILENAME VARCHAR, ZTITLE VARCHAR);
             CREATE TABLE ZASSETDESCRIPTION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER,
               ZASSETATTRIBUTES INTEGER, ZLONGDESCRIPTION VARCHAR);
             CREATE TABLE ZKEYWORD (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZTITLE VARCHAR,
               ZUUID VARCHAR);
             CREATE TABLE Z_1KEYWORDS (Z_1ASSETATTRIBUTES INTEGER, Z_{kw}KEYWORDS INTEGER,
               PRIMARY KEY (Z_1ASSETATTRIBUTES, Z_{kw}KEYWORDS));
             CREATE TABLE ZGENERICALBUM (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZKIND INTEGER,
               ZTRASHEDSTATE INTEGER, ZPARENTFOLDER INTEGER, ZTITLE VARCHAR, ZUUID VARCHAR);
             CREATE TABLE Z_{album}ASSETS (Z_{album}ALBUMS INTEGER, Z_{asset_ent}ASSETS INTEGER,
               Z_FOK_{asset_ent}ASSETS INTEGER, PRIMARY KEY (Z_{album}ALBUMS, Z_{asset_ent}ASSETS));
             CREATE TABLE ZPERSON (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZFULLNAME VARCHAR,
               ZDISPLAYNAME VARCHAR, ZPERSONUUID VARCHAR);
             CREATE TABLE ZDETECTEDFACE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER,
               {face_asset} INTEGER, {face_person} INTEGER);"
        ))?;
        let mut dict = plist::Dictionary::new();
        dict.insert(
            "PLModelVersion".into(),
            plist::Value::Integer(release.model_version().into()),
        );
        let mut plist_bytes = Vec::new();
        plist::Value::Dictionary(dict)
            .to_writer_binary(&mut plist_bytes)
            .map_err(|e| io_err(std::io::Error::other(e)))?;
        conn.execute(
            "INSERT INTO Z_METADATA (Z_VERSION, Z_UUID, Z_PLIST) VALUES (1, 'fixture', ?1)",
            [plist_bytes],
        )?;
        conn.execute(
            "INSERT INTO ZGENERICALBUM (Z_PK, ZKIND, ZTRASHEDSTATE, ZTITLE) VALUES (1, 3999, 0, NULL)",
            [],
        )?;
        Ok(Builder {
            conn,
            library: library.to_owned(),
            release,
            next: 100,
            root_folder: 1,
        })
    }

    fn id(&mut self) -> i64 {
        self.next += 1;
        self.next
    }

    /// Where a photo's original goes.
    pub fn original(&self, p: &Photo) -> PathBuf {
        self.library
            .join("originals")
            .join(&p.uuid[..1])
            .join(format!("{}.{}", p.uuid, p.ext))
    }

    /// Adds a photo; returns its asset's `Z_PK`.
    pub fn photo(&mut self, p: &Photo) -> rusqlite::Result<i64> {
        let (asset_table, kw, album, asset_ent, face_asset, face_person) = self.release.names();
        let asset = self.id();
        self.conn.execute(
            &format!(
                "INSERT INTO {asset_table} (Z_PK, ZKIND, ZFAVORITE, ZHIDDEN, ZTRASHEDSTATE,
                   ZDATECREATED, ZDIRECTORY, ZFILENAME, ZUUID)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                asset,
                i64::from(p.movie),
                i64::from(p.favorite),
                i64::from(p.trashed),
                p.created,
                &p.uuid[..1],
                format!("{}.{}", p.uuid, p.ext),
                p.uuid
            ],
        )?;
        let attrs = self.id();
        let description = match &p.description {
            Some(d) => {
                let id = self.id();
                self.conn.execute(
                    "INSERT INTO ZASSETDESCRIPTION (Z_PK, ZASSETATTRIBUTES, ZLONGDESCRIPTION)
                     VALUES (?1, ?2, ?3)",
                    params![id, attrs, d],
                )?;
                Some(id)
            }
            None => None,
        };
        self.conn.execute(
            "INSERT INTO ZADDITIONALASSETATTRIBUTES (Z_PK, ZASSET, ZASSETDESCRIPTION,
               ZTIMEZONEOFFSET, ZORIGINALFILENAME, ZTITLE) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                attrs,
                asset,
                description,
                p.tz_offset,
                p.original_name,
                p.title
            ],
        )?;
        for k in &p.keywords {
            let id = self.named("ZKEYWORD", "ZTITLE", k)?;
            self.conn.execute(
                &format!(
                    "INSERT INTO Z_1KEYWORDS (Z_1ASSETATTRIBUTES, Z_{kw}KEYWORDS) VALUES (?1, ?2)"
                ),
                params![attrs, id],
            )?;
        }
        for path in &p.albums {
            let Some((name, folders)) = path.split_last() else {
                continue;
            };
            let mut parent = self.root_folder;
            for f in folders {
                parent = self.album(f, 4000, parent)?;
            }
            let id = self.album(name, 2, parent)?;
            self.conn.execute(
                &format!(
                    "INSERT INTO Z_{album}ASSETS (Z_{album}ALBUMS, Z_{asset_ent}ASSETS,
                       Z_FOK_{asset_ent}ASSETS) VALUES (?1, ?2, 1)"
                ),
                params![id, asset],
            )?;
        }
        for person in &p.people {
            let id = self.named("ZPERSON", "ZFULLNAME", person)?;
            let face = self.id();
            self.conn.execute(
                &format!(
                    "INSERT INTO ZDETECTEDFACE (Z_PK, {face_asset}, {face_person}) VALUES (?1, ?2, ?3)"
                ),
                params![face, asset, id],
            )?;
        }
        Ok(asset)
    }

    /// The `Z_PK` of the row of `table` whose `column` is `value`, added if new.
    fn named(&mut self, table: &str, column: &str, value: &str) -> rusqlite::Result<i64> {
        let found: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT Z_PK FROM {table} WHERE {column} = ?1"),
                [value],
                |r| r.get(0),
            )
            .ok();
        if let Some(id) = found {
            return Ok(id);
        }
        let id = self.id();
        self.conn.execute(
            &format!("INSERT INTO {table} (Z_PK, {column}) VALUES (?1, ?2)"),
            params![id, value],
        )?;
        Ok(id)
    }

    /// The album or folder called `title` of `kind` under `parent`, added if new.
    fn album(&mut self, title: &str, kind: i64, parent: i64) -> rusqlite::Result<i64> {
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT Z_PK FROM ZGENERICALBUM WHERE ZTITLE = ?1 AND ZKIND = ?2 AND ZPARENTFOLDER = ?3",
                params![title, kind, parent],
                |r| r.get(0),
            )
            .ok();
        if let Some(id) = found {
            return Ok(id);
        }
        let id = self.id();
        self.conn.execute(
            "INSERT INTO ZGENERICALBUM (Z_PK, ZKIND, ZTRASHEDSTATE, ZPARENTFOLDER, ZTITLE)
             VALUES (?1, ?2, 0, ?3, ?4)",
            params![id, kind, parent, title],
        )?;
        Ok(id)
    }
}

fn io_err(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}
