//! Model rows: embeddings are kept per model name and per weights fingerprint.

use rusqlite::{params, OptionalExtension};

use super::codec::to_i64;
use super::{Catalog, Result};

impl Catalog {
    /// Registers a model with its weights' fingerprint. When the catalog holds embeddings of
    /// that name made by other weights (or by unknown weights, from before fingerprints were
    /// kept), they are deleted, so the next crawl embeds everything again. Returns the model's
    /// row id and how many embeddings were forgotten.
    pub fn prepare_model(
        &mut self,
        name: &str,
        dim: usize,
        fingerprint: &str,
    ) -> Result<(i64, u64)> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO models (name, dim) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, to_i64(dim as u64)],
        )?;
        let (id, old_dim, known): (i64, i64, Option<String>) = tx.query_row(
            "SELECT id, dim, fingerprint FROM models WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut forgotten = 0;
        if known.as_deref() != Some(fingerprint) || old_dim != to_i64(dim as u64) {
            forgotten = tx.execute("DELETE FROM embeddings WHERE model_id = ?1", [id])? as u64;
            tx.execute("DELETE FROM model_tags WHERE model_id = ?1", [id])?;
            tx.execute(
                "UPDATE models SET dim = ?2, fingerprint = ?3 WHERE id = ?1",
                params![id, to_i64(dim as u64), fingerprint],
            )?;
        }
        tx.commit()?;
        Ok((id, forgotten))
    }

    /// The row id of a model, if it was ever used.
    pub fn model_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM models WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }
}
