//! Reading a catalog's photos: each one's file, facts, keywords (with their hierarchy) and
//! collections, virtual copies folded into their masters.

use std::collections::HashMap;
use std::path::PathBuf;

use super::lrcat::{Flag, Keyword, LrPhoto, Lrcat, LrcatError};

/// A photo's title and description, from its XMP.
type TitleAndDescription = (Option<String>, Option<String>);

impl Lrcat {
    /// Every photo (virtual copies folded into their masters), in `id` order.
    pub fn photos(&self) -> Result<Vec<LrPhoto>, LrcatError> {
        let keywords = self.keywords().map_err(|e| self.query_err(e))?;
        let collections = self.collections().map_err(|e| self.query_err(e))?;
        // Captions and XMP in passes of their own (one scan each, whatever indexes the catalog
        // has), the XMP read down to its title and description as it goes.
        let captions = self.captions().map_err(|e| self.query_err(e))?;
        let mut described = self.described().map_err(|e| self.query_err(e))?;
        let mut st = self
            .conn
            .prepare(
                "SELECT i.id_local, CAST(i.masterImage AS INTEGER),
                        r.absolutePath, fo.pathFromRoot, f.idx_filename,
                        CAST(i.captureTime AS TEXT), CAST(i.rating AS INTEGER),
                        CAST(i.pick AS INTEGER), CAST(i.colorLabels AS TEXT), r.name
                   FROM Adobe_images i
                   JOIN AgLibraryFile f ON f.id_local = i.rootFile
                   JOIN AgLibraryFolder fo ON fo.id_local = f.folder
                   JOIN AgLibraryRootFolder r ON r.id_local = fo.rootFolder
                  ORDER BY i.id_local",
            )
            .map_err(|e| self.query_err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    text(r.get_ref(2)?),
                    text(r.get_ref(3)?),
                    text(r.get_ref(4)?),
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    text(r.get_ref(9)?),
                ))
            })
            .map_err(|e| self.query_err(e))?;
        let mut photos: Vec<LrPhoto> = Vec::new();
        let mut index: HashMap<i64, usize> = HashMap::new();
        let mut copies = Vec::new();
        for row in rows {
            let (id, master, root, folder, name, capture, rating, pick, label, root_name) =
                row.map_err(|e| self.query_err(e))?;
            let (title, description) = described.remove(&id).unwrap_or_default();
            let photo = LrPhoto {
                id,
                copies: Vec::new(),
                path: join_path(&root, &folder, &name),
                relative: join_path(&root_name, &folder, &name),
                capture_time: capture.filter(|c| !c.is_empty()),
                rating: rating
                    .and_then(|r| u8::try_from(r).ok())
                    .filter(|r| *r <= 5),
                flag: match pick {
                    Some(1) => Flag::Pick,
                    Some(-1) => Flag::Reject,
                    _ => Flag::None,
                },
                label: label.filter(|l| !l.trim().is_empty()),
                title,
                caption: captions.get(&id).cloned().or(description),
                keywords: keywords.get(&id).cloned().unwrap_or_default(),
                collections: collections.get(&id).cloned().unwrap_or_default(),
            };
            match master.filter(|m| *m != id) {
                Some(m) => copies.push((m, photo)),
                None => {
                    index.insert(id, photos.len());
                    photos.push(photo);
                }
            }
        }
        for (master, copy) in copies {
            match index.get(&master) {
                Some(&i) => fold_copy(&mut photos[i], copy),
                // A copy whose master is gone stands for the file on its own.
                None => {
                    index.insert(copy.id, photos.len());
                    photos.push(copy);
                }
            }
        }
        Ok(photos)
    }

    /// Each image's caption (its first IPTC row's, when not blank), by image id.
    fn captions(&self) -> rusqlite::Result<HashMap<i64, String>> {
        let mut st = self.conn.prepare(
            "SELECT image, CAST(caption AS TEXT) FROM AgLibraryIPTC ORDER BY image, id_local",
        )?;
        let mut out = HashMap::new();
        for row in st.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })? {
            let (image, caption) = row?;
            if let Some(c) = caption.filter(|c| !c.trim().is_empty()) {
                out.entry(image).or_insert(c);
            }
        }
        Ok(out)
    }

    /// Each image's title and description from its XMP (the first row's), by image id.
    fn described(&self) -> rusqlite::Result<HashMap<i64, TitleAndDescription>> {
        use rusqlite::types::ValueRef;
        let mut st = self
            .conn
            .prepare("SELECT image, xmp FROM Adobe_AdditionalMetadata ORDER BY image, id_local")?;
        let mut rows = st.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let Some(image) = r.get::<_, Option<i64>>(0)? else {
                continue;
            };
            if out.contains_key(&image) {
                continue;
            }
            let bytes = match r.get_ref(1)? {
                ValueRef::Text(t) | ValueRef::Blob(t) => t,
                ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => continue,
            };
            let d = crate::media::xmp::Described::parse(&crate::media::xmp::inflate(bytes));
            out.insert(image, (d.title, d.description));
        }
        Ok(out)
    }

    /// Each image's keywords, by image id.
    fn keywords(&self) -> rusqlite::Result<HashMap<i64, Vec<Keyword>>> {
        let mut st = self.conn.prepare(
            "SELECT id_local, CAST(name AS TEXT), CAST(parent AS INTEGER), CAST(keywordType AS TEXT)
               FROM AgLibraryKeyword",
        )?;
        let all: HashMap<i64, (Option<String>, Option<i64>, bool)> = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    (
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?.as_deref() == Some("person"),
                    ),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let path_of = |mut id: i64| {
            let mut path = Vec::new();
            let mut seen = Vec::new();
            // Bounded, and each keyword once: a damaged catalog with a cycle must not loop.
            for _ in 0..64 {
                if seen.contains(&id) {
                    break;
                }
                seen.push(id);
                let Some((name, parent, _)) = all.get(&id) else {
                    break;
                };
                match name {
                    Some(n) if !n.is_empty() => path.push(n.clone()),
                    _ => break, // the root keyword has no name
                }
                match parent {
                    Some(p) if *p != id => id = *p,
                    _ => break,
                }
            }
            path.reverse();
            path
        };
        let mut st = self
            .conn
            .prepare("SELECT image, tag FROM AgLibraryKeywordImage ORDER BY image, tag")?;
        let mut out: HashMap<i64, Vec<Keyword>> = HashMap::new();
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (image, tag) = row?;
            let path = path_of(tag);
            if path.is_empty() {
                continue;
            }
            let person = all.get(&tag).is_some_and(|k| k.2);
            let list = out.entry(image).or_default();
            if !list.iter().any(|k| k.path == path) {
                list.push(Keyword { path, person });
            }
        }
        Ok(out)
    }

    /// Each image's collections (plain ones, not smart ones), by image id.
    fn collections(&self) -> rusqlite::Result<HashMap<i64, Vec<String>>> {
        let mut st = self.conn.prepare(
            "SELECT id_local, CAST(name AS TEXT), CAST(parent AS INTEGER), CAST(creationId AS TEXT)
               FROM AgLibraryCollection",
        )?;
        let all: HashMap<i64, (String, Option<i64>, String)> = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    (
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    ),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let name_of = |id: i64| {
            let mut parts = Vec::new();
            let mut at = Some(id);
            for _ in 0..64 {
                let Some((name, parent, _)) = at.and_then(|a| all.get(&a)) else {
                    break;
                };
                parts.push(name.clone());
                at = parent.filter(|p| Some(*p) != at);
            }
            parts.reverse();
            parts.join(" / ")
        };
        let mut st = self.conn.prepare(
            "SELECT image, collection FROM AgLibraryCollectionImage ORDER BY image, collection",
        )?;
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (image, collection) = row?;
            // Plain collections only: the Quick Collection, smart collections (no members
            // anyway) and output modules' states are not what a user means by "collection".
            match all.get(&collection) {
                Some((name, _, kind))
                    if kind == "com.adobe.ag.library.collection"
                        && !name.eq_ignore_ascii_case("quick collection") => {}
                _ => continue,
            }
            let name = name_of(collection);
            let list = out.entry(image).or_default();
            if !list.contains(&name) {
                list.push(name);
            }
        }
        Ok(out)
    }
}

/// A text column that may hold text, a number or a blob.
fn text(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Null => String::new(),
    }
}

/// Root + folder + file name, Windows separators turned around.
fn join_path(root: &str, folder: &str, name: &str) -> PathBuf {
    let mut s = String::with_capacity(root.len() + folder.len() + name.len() + 1);
    s.push_str(root);
    if !s.is_empty() && !s.ends_with('/') && !s.ends_with('\\') {
        s.push('/');
    }
    s.push_str(folder);
    if !folder.is_empty() && !s.ends_with('/') && !s.ends_with('\\') {
        s.push('/');
    }
    s.push_str(name);
    if cfg!(unix) {
        // A catalog made on Windows (`C:\Photos\`) keeps its backslashes only where the path
        // is a Windows one; a path that starts with `/` is a Unix path whose names may hold `\`.
        if !s.starts_with('/') {
            s = s.replace('\\', "/");
        }
    }
    PathBuf::from(s)
}

/// Folds a virtual copy into its master: the master's own facts win; what the master lacks the
/// copy gives; keywords and collections are the union.
fn fold_copy(master: &mut LrPhoto, copy: LrPhoto) {
    master.copies.push(copy.id);
    master.rating = master.rating.or(copy.rating);
    if master.flag == Flag::None {
        master.flag = copy.flag;
    }
    master.label = master.label.take().or(copy.label);
    master.title = master.title.take().or(copy.title);
    master.caption = master.caption.take().or(copy.caption);
    for k in copy.keywords {
        if !master.keywords.iter().any(|m| m.path == k.path) {
            master.keywords.push(k);
        }
    }
    for c in copy.collections {
        if !master.collections.contains(&c) {
            master.collections.push(c);
        }
    }
}
