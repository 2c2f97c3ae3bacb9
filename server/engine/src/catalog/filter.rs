//! Restricting and ordering images: the search filters (folder, capture dates, camera, format)
//! as SQL, written once and used both to check search candidates ([`Catalog::visible`]) and to
//! page through the library ([`Catalog::browse`]).

use std::collections::HashMap;

use rusqlite::types::Value;

use super::codec::folder_prefix;
use super::text::{keyword_test, like_escape, like_pattern, Columns};
use super::{Catalog, Result};

/// A file's folders as the user knows them: the library folder's own name, then the folders
/// inside it, `/` between and after (`Pictures/Japan 2023/`).
const FOLDER_NAMES: &str = "(substr(CAST(r.path AS TEXT),
        length(rtrim(CAST(r.path AS TEXT), replace(CAST(r.path AS TEXT), '/', ''))) + 1)
    || '/' || rtrim(CAST(substr(f.path, length(r.path) + 2) AS TEXT),
        replace(CAST(substr(f.path, length(r.path) + 2) AS TEXT), '/', '')))";

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Most similar first.
    #[default]
    Relevance,
    /// Newest capture date first (undated last), among the relevant results.
    Newest,
    /// Oldest capture date first (undated last), among the relevant results.
    Oldest,
}

/// Restrictions on which images may be returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only files under this folder (absolute path prefix).
    pub folder: Option<String>,
    /// Captured on or after this date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Captured on or before this date (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Camera make or model contains this (case-insensitive).
    pub camera: Option<String>,
    /// File format (`jpeg`, `png`, …).
    pub format: Option<String>,
    /// Only files in a folder whose name holds this (any case): the library folder's own name
    /// or a folder inside it.
    pub folder_name: Option<String>,
    /// Captured before this date (`YYYY-MM-DD`, that day left out).
    pub before: Option<String>,
    /// Phrases the words read in the picture must each hold (any case, accents folded).
    pub phrases: Vec<String>,
    /// Terms none of the image's keyword row (words, names, facts) may hold.
    pub without: Vec<String>,
    /// Tags the image must each have (whole tags, any case).
    pub tags: Vec<String>,
    /// What an imported catalog must say of the image.
    pub catalog: CatalogFilters,
}

/// Restrictions on what an imported catalog (Lightroom) says of an image; an image no catalog
/// describes passes none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilters {
    /// Stars, at least and at most (`rating:>=4` is `(4, 5)`).
    pub rating: Option<(u8, u8)>,
    /// 1 picked, -1 rejected, 0 neither.
    pub flag: Option<i8>,
    /// Colour label (whole, any case).
    pub label: Option<String>,
    /// Collections it must each be in: the whole name, or the name after its sets
    /// (`Japan 2023` is in `Travel / Japan 2023`), any case.
    pub collections: Vec<String>,
    /// Keywords it must each have, whole, any case, at any level of their hierarchy.
    pub keywords: Vec<String>,
}

impl Filters {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }
}

/// The filters as a `WHERE` condition on `images i` (always requiring a file, in the folder
/// if one is given), with its values bound in order after `first` placeholders.
#[derive(Debug, Clone, PartialEq)]
struct FilterSql {
    condition: String,
    values: Vec<Value>,
}

impl FilterSql {
    fn new(filters: &Filters, first: usize) -> Self {
        let mut values: Vec<Value> = Vec::new();
        let mut next = |v: Value| {
            values.push(v);
            format!("?{}", first + values.len())
        };
        let file = match &filters.folder {
            Some(folder) => {
                let p = next(Value::Blob(folder_prefix(folder)));
                format!(" AND substr(f.path, 1, length({p})) = {p}")
            }
            None => String::new(),
        };
        let mut condition = format!("EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id{file})");
        if let Some(from) = &filters.from {
            let p = next(Value::Text(from.clone()));
            condition.push_str(&format!(" AND substr(i.taken_at, 1, 10) >= {p}"));
        }
        if let Some(to) = &filters.to {
            let p = next(Value::Text(to.clone()));
            condition.push_str(&format!(" AND substr(i.taken_at, 1, 10) <= {p}"));
        }
        if let Some(camera) = &filters.camera {
            let p = next(Value::Text(camera.clone()));
            condition.push_str(&format!(
                " AND (i.camera_model LIKE '%' || {p} || '%' OR i.camera_make LIKE '%' || {p} || '%')"
            ));
        }
        if let Some(format) = &filters.format {
            let format = format.to_ascii_lowercase();
            if format == "raw" {
                // Every camera raw format (the names are constants, not the user's text).
                let names: Vec<String> = crate::media::RAW_FORMATS
                    .iter()
                    .map(|f| format!("'{f}'"))
                    .collect();
                condition.push_str(&format!(" AND i.format IN ({})", names.join(", ")));
            } else {
                let p = next(Value::Text(format));
                condition.push_str(&format!(" AND i.format = {p}"));
            }
        }
        if let Some(before) = &filters.before {
            let p = next(Value::Text(before.clone()));
            condition.push_str(&format!(" AND substr(i.taken_at, 1, 10) < {p}"));
        }
        if let Some(name) = &filters.folder_name {
            let p = next(Value::Text(like_pattern(name)));
            condition.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM files f JOIN roots r ON r.id = f.root_id
                   WHERE f.image_id = i.id AND {FOLDER_NAMES} LIKE {p} ESCAPE '\\')"
            ));
        }
        for phrase in &filters.phrases {
            let (test, value) = keyword_test(Columns::Words, phrase);
            let p = next(Value::Text(value));
            condition.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM keyword_index k WHERE k.rowid = i.id AND {})",
                test.replace('?', &p)
            ));
        }
        for tag in &filters.tags {
            let p = next(Value::Text(tag.trim().to_owned()));
            condition.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM image_tags g WHERE g.image_id = i.id AND g.tag = {p} COLLATE NOCASE)"
            ));
        }
        let c = &filters.catalog;
        let photo = |test: String| {
            format!(
                " AND EXISTS (SELECT 1 FROM source_photos sp WHERE sp.image_id = i.id AND {test})"
            )
        };
        if let Some((low, high)) = c.rating {
            let (a, b) = (
                next(Value::Integer(low.into())),
                next(Value::Integer(high.into())),
            );
            condition.push_str(&photo(format!("sp.rating BETWEEN {a} AND {b}")));
        }
        if let Some(flag) = c.flag {
            let p = next(Value::Integer(flag.into()));
            condition.push_str(&photo(format!("sp.flag = {p}")));
        }
        if let Some(label) = &c.label {
            let p = next(Value::Text(label.trim().to_owned()));
            condition.push_str(&photo(format!("sp.label = {p} COLLATE NOCASE")));
        }
        for name in &c.collections {
            let whole = next(Value::Text(name.trim().to_owned()));
            let last = next(Value::Text(format!("% / {}", like_escape(name.trim()))));
            condition.push_str(&photo(format!(
                "EXISTS (SELECT 1 FROM source_collections sc WHERE sc.source_id = sp.source_id
                   AND sc.external_id = sp.external_id
                   AND (sc.collection = {whole} OR sc.collection LIKE {last} ESCAPE '\\'))"
            )));
        }
        for keyword in &c.keywords {
            let whole = next(Value::Text(keyword.trim().to_owned()));
            let inner = next(Value::Text(format!(
                "%{}{}{}%",
                super::KEYWORD_SEPARATOR,
                like_escape(keyword.trim()),
                super::KEYWORD_SEPARATOR
            )));
            let first = next(Value::Text(format!(
                "{}{}%",
                like_escape(keyword.trim()),
                super::KEYWORD_SEPARATOR
            )));
            condition.push_str(&photo(format!(
                "EXISTS (SELECT 1 FROM source_keywords sk WHERE sk.source_id = sp.source_id
                   AND sk.external_id = sp.external_id
                   AND (sk.keyword = {whole} OR sk.path LIKE {inner} ESCAPE '\\'
                        OR sk.path LIKE {first} ESCAPE '\\'))"
            )));
        }
        for term in &filters.without {
            let (test, value) = keyword_test(Columns::All, term);
            let p = next(Value::Text(value));
            condition.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM keyword_index k WHERE k.rowid = i.id AND {})",
                test.replace('?', &p)
            ));
        }
        FilterSql { condition, values }
    }
}

impl Catalog {
    /// Which of `ids` have at least one file and pass `filters`, with their capture time.
    pub fn visible(&self, ids: &[i64], filters: &Filters) -> Result<HashMap<i64, Option<String>>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let filter = FilterSql::new(filters, chunk.len());
            let sql = format!(
                "SELECT i.id, i.taken_at FROM images i WHERE i.id IN ({marks}) AND {}",
                filter.condition
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let values = chunk
                .iter()
                .map(|&i| Value::Integer(i))
                .chain(filter.values);
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            for row in rows {
                let (id, taken) = row?;
                out.insert(id, taken);
            }
        }
        Ok(out)
    }

    /// One page of the library itself, for browsing: images with a file and an embedding for
    /// `model_id`, filtered, newest capture first (undated ones last, newest indexed first), or
    /// oldest first. Stable across pages: the order ends on the image id.
    pub fn browse(
        &self,
        model_id: i64,
        filters: &Filters,
        oldest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let filter = FilterSql::new(filters, 1);
        let n = filter.values.len();
        let order = if oldest_first {
            "i.taken_at IS NULL, i.taken_at ASC, i.id ASC"
        } else {
            "i.taken_at IS NULL, i.taken_at DESC, i.id DESC"
        };
        let sql = format!(
            "SELECT i.id FROM images i
             WHERE EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_id = ?1)
               AND {}
             ORDER BY {order} LIMIT ?{} OFFSET ?{}",
            filter.condition,
            n + 2,
            n + 3
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let values = std::iter::once(Value::Integer(model_id))
            .chain(filter.values)
            .chain([
                Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
                Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)),
            ]);
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_set_filters_become_conditions_numbered_after_the_first() {
        let none = FilterSql::new(&Filters::default(), 3);
        assert_eq!(
            none.condition,
            "EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id)"
        );
        assert!(none.values.is_empty());
        let some = FilterSql::new(
            &Filters {
                folder: Some("/photos".into()),
                to: Some("2024-01-31".into()),
                format: Some("JPEG".into()),
                ..Filters::default()
            },
            3,
        );
        assert!(
            some.condition.contains("length(?4)) = ?4")
                && some.condition.contains("<= ?5")
                && some.condition.contains("i.format = ?6"),
            "{}",
            some.condition
        );
        assert_eq!(
            some.values,
            [
                Value::Blob(b"/photos/".to_vec()),
                Value::Text("2024-01-31".into()),
                Value::Text("jpeg".into())
            ]
        );
    }
}
