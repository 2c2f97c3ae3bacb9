//! The words read from images' pixels (`image_text`), and the keyword index the schema's
//! triggers keep in step with them, with the files' names and the camera facts (`keywords`,
//! SQLite FTS5 with the trigram tokenizer).

use rusqlite::params;

use super::codec::{now, to_u64};
use super::read::IndexedFile;
use super::{Catalog, Result};

/// What a reader found in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRecord {
    /// The image.
    pub image_id: i64,
    /// The lines read, one per line (empty: no words).
    pub text: String,
    /// The lines with their boxes and confidences, as JSON.
    pub lines_json: String,
}

/// An image waiting to be read, with its files.
#[derive(Debug, Clone)]
pub struct Unread {
    /// The image.
    pub image_id: i64,
    /// Its files as the crawl last saw them.
    pub files: Vec<IndexedFile>,
}

/// How far reading has come for a reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextCounts {
    /// Images read by this reader.
    pub read: u64,
    /// Of those, images with words.
    pub with_words: u64,
    /// Images in the catalog.
    pub images: u64,
}

impl Catalog {
    /// Up to `limit` images this reader has not read (never read, or read by another reader),
    /// lowest id first, after `after`.
    pub fn unread_images(&self, reader: &str, after: i64, limit: usize) -> Result<Vec<Unread>> {
        self.waiting_images(
            "SELECT i.id FROM images i
             WHERE i.id > ?2
               AND NOT EXISTS (SELECT 1 FROM image_text t WHERE t.image_id = i.id AND t.reader = ?1)
             ORDER BY i.id LIMIT ?3",
            reader,
            after,
            limit,
        )
    }

    /// The images `sql` lists (its parameters: a pass's key, the id to start after, how
    /// many), with their files: what a pass after embedding has still to do.
    pub(super) fn waiting_images(
        &self,
        sql: &str,
        key: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Unread>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let ids = stmt
            .query_map(params![key, after, limit as i64], |r| r.get::<_, i64>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        ids.into_iter()
            .map(|image_id| {
                Ok(Unread {
                    image_id,
                    files: self.indexed_files(image_id)?,
                })
            })
            .collect()
    }

    /// Records what `reader` found, one transaction for the batch. Images deleted meanwhile
    /// are passed over.
    pub fn record_text(&mut self, reader: &str, records: &[TextRecord]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO image_text (image_id, reader, text, lines, read_at)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM images WHERE id = ?1)
                 ON CONFLICT(image_id) DO UPDATE SET reader = excluded.reader,
                   text = excluded.text, lines = excluded.lines, read_at = excluded.read_at",
            )?;
            for r in records {
                insert.execute(params![r.image_id, reader, r.text, r.lines_json, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets every image's words, so the next crawl reads them all again.
    pub fn forget_text(&self) -> Result<u64> {
        Ok(self.conn.execute("DELETE FROM image_text", [])? as u64)
    }

    /// How many images `reader` has read, and how many images there are.
    pub fn text_counts(&self, reader: &str) -> Result<TextCounts> {
        let (read, with_words) = self.count_pair(
            "SELECT count(*), coalesce(sum(text <> ''), 0) FROM image_text WHERE reader = ?1",
            &[reader],
        )?;
        Ok(TextCounts {
            read,
            with_words,
            images: self.count_pair("SELECT count(*), 0 FROM images", &[])?.0,
        })
    }

    /// Images read by any reader, and of those, images with words.
    pub fn text_totals(&self) -> Result<(u64, u64)> {
        self.count_pair(
            "SELECT count(*), coalesce(sum(text <> ''), 0) FROM image_text",
            &[],
        )
    }

    /// The two counts `sql` answers (a pass's images done, and of those with something found).
    pub(super) fn count_pair(&self, sql: &str, args: &[&str]) -> Result<(u64, u64)> {
        let (a, b): (i64, i64) =
            self.conn
                .query_row(sql, rusqlite::params_from_iter(args), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok((to_u64(a), to_u64(b)))
    }

    /// The words read from an image, if it has been read: `(text, lines JSON, reader)`.
    pub fn text_of(&self, image_id: i64) -> Result<Option<(String, String, String)>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT text, lines, reader FROM image_text WHERE image_id = ?1",
                [image_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}

/// `term` as an FTS5 string (double quotes doubled): matched as a substring, never as syntax.
fn fts_string(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// `term` as a LIKE pattern matching it anywhere (`%`, `_` and `\` taken literally).
pub(super) fn like_pattern(term: &str) -> String {
    format!("%{}%", like_escape(term))
}

/// `term` with LIKE's wildcards and the escape character escaped (`ESCAPE '\\'`).
pub(super) fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which columns of the keyword index a term is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Columns {
    /// Every column: words, names, facts, and what later stages add.
    All,
    /// The words read in the picture.
    Words,
}

/// The columns, for the LIKE scan of short terms.
const ALL_COLUMNS: [&str; 6] = ["words", "names", "facts", "captions", "tags", "keywords"];

/// A condition on the keyword index row `k` that holds when it has `term` as a substring (any
/// case, accents folded), with every `?` in it bound to the returned value: the trigram index
/// for terms of three characters or more, a LIKE scan of the row for shorter ones.
pub(super) fn keyword_test(columns: Columns, term: &str) -> (String, String) {
    if term.chars().count() >= 3 {
        let value = match columns {
            Columns::All => fts_string(term),
            Columns::Words => format!("words : {}", fts_string(term)),
        };
        ("k.keyword_index MATCH ?".into(), value)
    } else {
        let names: &[&str] = match columns {
            Columns::All => &ALL_COLUMNS,
            Columns::Words => &["words"],
        };
        let test = names
            .iter()
            .map(|c| format!("k.{c} LIKE ? ESCAPE '\\'"))
            .collect::<Vec<_>>()
            .join(" OR ");
        (format!("({test})"), like_pattern(term))
    }
}

/// What a keyword search looks for: every term anywhere in an image's row, and every phrase in
/// the words read in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeywordQuery<'a> {
    /// Terms looked for in every column.
    pub terms: &'a [String],
    /// Phrases looked for in the words read.
    pub phrases: &'a [String],
}

/// One row of the keyword index: what [`Catalog::keyword_rows`] returns to explain a match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordRow {
    /// The image.
    pub image_id: i64,
    /// The words read in it, lines joined by spaces.
    pub words: String,
    /// Its files' paths inside their library folders, the folder's own name first, one a line.
    pub names: String,
    /// Camera, lens and capture date in words.
    pub facts: String,
    /// Its caption.
    pub captions: String,
    /// Its tags, one a line.
    pub tags: String,
    /// What imported catalogs say of it (keywords, title, caption, collections), one a line.
    pub keywords: String,
}

impl Catalog {
    /// Images whose keyword row (words read, file and folder names, camera facts) holds every
    /// term and whose words hold every phrase, as substrings, any case, accents folded; best
    /// first (FTS5's bm25), at most `limit`. Terms of three characters or more use the trigram
    /// index; shorter ones are scanned.
    pub fn keyword_search(&self, query: KeywordQuery<'_>, limit: usize) -> Result<Vec<(i64, f64)>> {
        let tests: Vec<(String, String)> = query
            .terms
            .iter()
            .map(|t| (Columns::All, t.trim()))
            .chain(query.phrases.iter().map(|p| (Columns::Words, p.trim())))
            .filter(|(_, t)| !t.is_empty())
            .map(|(c, t)| keyword_test(c, t))
            .collect();
        if tests.is_empty() {
            return Ok(Vec::new());
        }
        // FTS5 takes one MATCH per query: the trigram tests are joined with AND.
        let (matches, scans): (Vec<_>, Vec<_>) =
            tests.into_iter().partition(|(t, _)| t.contains("MATCH"));
        let mut sql = String::from("SELECT k.rowid, ");
        sql.push_str(if matches.is_empty() {
            "0.0"
        } else {
            "bm25(keyword_index)"
        });
        sql.push_str(" FROM keyword_index k WHERE 1");
        let mut args: Vec<String> = Vec::new();
        if !matches.is_empty() {
            sql.push_str(" AND k.keyword_index MATCH ?");
            args.push(
                matches
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" AND "),
            );
        }
        for (test, value) in scans {
            let n = test.matches('?').count();
            sql.push_str(" AND ");
            sql.push_str(&test);
            args.extend(std::iter::repeat_n(value, n));
        }
        sql.push_str(" ORDER BY 2, k.rowid LIMIT ?");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut params: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        params.push(&limit);
        let rows = stmt.query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The keyword index rows of `ids` (those that have one), in no particular order.
    pub fn keyword_rows(&self, ids: &[i64]) -> Result<Vec<KeywordRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT rowid, words, names, facts, captions, tags, keywords FROM keyword_index
                 WHERE rowid IN ({marks})"
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(chunk), |r| {
                Ok(KeywordRow {
                    image_id: r.get(0)?,
                    words: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    names: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    facts: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    captions: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    tags: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    keywords: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }
}
