//! The crawl log: one row per crawl, with its state and final counts.

use rusqlite::{params, OptionalExtension};

use super::codec::{now, to_i64, to_u64};
use super::{Catalog, Result};

/// Where a crawl stands, as the catalog records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlState {
    /// In progress.
    Running,
    /// Every root walked to the end.
    Done,
    /// Stopped on request.
    Stopped,
    /// Ended by an error.
    Failed,
    /// Left `running` by a process that died (a kill, a power cut); found at the next crawl.
    Interrupted,
}

impl CrawlState {
    /// Every state, for parsing.
    pub const ALL: [CrawlState; 5] = [
        CrawlState::Running,
        CrawlState::Done,
        CrawlState::Stopped,
        CrawlState::Failed,
        CrawlState::Interrupted,
    ];

    /// The word stored in the catalog (and shown to people).
    pub fn as_str(self) -> &'static str {
        match self {
            CrawlState::Running => "running",
            CrawlState::Done => "done",
            CrawlState::Stopped => "stopped",
            CrawlState::Failed => "failed",
            CrawlState::Interrupted => "interrupted",
        }
    }

    /// The state a stored word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for CrawlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::ToSql for CrawlState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for CrawlState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let word = value.as_str()?;
        CrawlState::parse(word).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown crawl state {word:?}").into())
        })
    }
}

/// A crawl's final counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrawlCounts {
    /// Image files seen.
    pub files_seen: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten because they are gone.
    pub removed: u64,
}

/// A crawl as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlRecord {
    /// Row id.
    pub id: i64,
    /// How it stands or ended.
    pub state: CrawlState,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, once ended.
    pub finished_at: Option<i64>,
    /// Its counts (final once ended).
    pub counts: CrawlCounts,
    /// The error, for a failed crawl.
    pub message: Option<String>,
}

impl Catalog {
    /// Marks crawls left running by a process that died as [`CrawlState::Interrupted`].
    pub fn mark_interrupted(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE crawls SET state = ?1, finished_at = ?2 WHERE state = ?3",
            params![CrawlState::Interrupted, now(), CrawlState::Running],
        )?)
    }

    /// Starts a crawl record.
    pub fn begin_crawl(&self, model_id: i64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO crawls (model_id, started_at, state) VALUES (?1, ?2, ?3)",
            params![model_id, now(), CrawlState::Running],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a crawl record.
    pub fn finish_crawl(
        &self,
        crawl_id: i64,
        state: CrawlState,
        counts: CrawlCounts,
        message: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE crawls SET state = ?2, finished_at = ?3, files_seen = ?4, embedded = ?5,
               skipped = ?6, removed = ?7, message = ?8
             WHERE id = ?1",
            params![
                crawl_id,
                state,
                now(),
                to_i64(counts.files_seen),
                to_i64(counts.embedded),
                to_i64(counts.skipped),
                to_i64(counts.removed),
                message
            ],
        )?;
        Ok(())
    }

    /// The most recent crawl.
    pub fn last_crawl(&self) -> Result<Option<CrawlRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, state, started_at, finished_at, files_seen, embedded, skipped, removed,
                        message
                 FROM crawls ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(CrawlRecord {
                        id: r.get(0)?,
                        state: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        counts: CrawlCounts {
                            files_seen: to_u64(r.get(4)?),
                            embedded: to_u64(r.get(5)?),
                            skipped: to_u64(r.get(6)?),
                            removed: to_u64(r.get(7)?),
                        },
                        message: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }
}
