//! What a picture shows in words: the captions a captioner wrote (`image_captions`) and the
//! tags the embedding model gave (`image_tags`, with `image_tagged` saying which tagger did),
//! and each model's embedded tag vocabulary (`model_tags`). The schema's triggers put captions
//! and tags into the keyword index (`schema-5.sql`).

use rusqlite::{params, OptionalExtension};

use super::codec::{bytes_vector, now, to_u64, vector_bytes};
use super::text::{TextCounts, Unread};
use super::{Catalog, Result};

/// A model's tag vocabulary as its text tower embedded it, and the thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTags {
    /// The vocabulary's name and fingerprint.
    pub vocabulary: String,
    /// The tags.
    pub names: Vec<String>,
    /// Per vector row, the tag it stands for.
    pub owners: Vec<u32>,
    /// Unit vectors, row-major.
    pub vectors: Vec<f32>,
    /// One per tag (`None`: never fires); `None` as a whole: not calibrated yet.
    pub thresholds: Option<Vec<Option<f32>>>,
    /// How the thresholds were found.
    pub calibration: Option<String>,
    /// Library pictures the thresholds came from (0 for labelled thresholds).
    pub calibrated_images: u64,
}

/// The tags one image was given.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRecord {
    /// The image.
    pub image_id: i64,
    /// Tag and score, clearest first.
    pub tags: Vec<(String, f32)>,
}

impl Catalog {
    /// The model's embedded tag vocabulary, if it has one.
    pub fn model_tags(&self, model_id: i64) -> Result<Option<StoredTags>> {
        Ok(self
            .conn
            .query_row(
                "SELECT vocabulary, names, owners, vectors, thresholds, calibration,
                        coalesce(calibrated_images, 0)
                 FROM model_tags WHERE model_id = ?1",
                [model_id],
                |r| {
                    let names: String = r.get(1)?;
                    let owners: Vec<u8> = r.get(2)?;
                    let vectors: Vec<u8> = r.get(3)?;
                    let thresholds: Option<String> = r.get(4)?;
                    Ok(StoredTags {
                        vocabulary: r.get(0)?,
                        names: serde_json::from_str(&names).unwrap_or_default(),
                        owners: owners
                            .chunks_exact(4)
                            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                        vectors: bytes_vector(&vectors),
                        thresholds: thresholds.and_then(|t| serde_json::from_str(&t).ok()),
                        calibration: r.get(5)?,
                        calibrated_images: to_u64(r.get(6)?),
                    })
                },
            )
            .optional()?)
    }

    /// Saves (replacing) the model's embedded tag vocabulary and thresholds.
    pub fn save_model_tags(&self, model_id: i64, tags: &StoredTags) -> Result<()> {
        let owners: Vec<u8> = tags.owners.iter().flat_map(|o| o.to_le_bytes()).collect();
        let thresholds = tags
            .thresholds
            .as_ref()
            .map(|t| serde_json::to_string(t).unwrap_or_default());
        self.conn.execute(
            "INSERT OR REPLACE INTO model_tags
               (model_id, vocabulary, names, owners, vectors, thresholds, calibration, calibrated_images)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                model_id,
                tags.vocabulary,
                serde_json::to_string(&tags.names).unwrap_or_default(),
                owners,
                vector_bytes(&tags.vectors),
                thresholds,
                tags.calibration,
                i64::try_from(tags.calibrated_images).unwrap_or(i64::MAX),
            ],
        )?;
        Ok(())
    }

    /// Up to `limit` images with an embedding of `model_id` that `tagger` has not tagged,
    /// lowest id first, after `after`, with their embeddings.
    pub fn untagged(
        &self,
        model_id: i64,
        tagger: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.image_id, e.vector FROM embeddings e
             WHERE e.model_id = ?1 AND e.image_id > ?3
               AND NOT EXISTS (SELECT 1 FROM image_tagged t
                               WHERE t.image_id = e.image_id AND t.tagger = ?2)
             ORDER BY e.image_id LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![model_id, tagger, after, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, bytes_vector(&r.get::<_, Vec<u8>>(1)?)))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Up to `limit` of the model's embeddings, spread evenly over the library (every n-th by
    /// id), for calibrating tags; and how many there are.
    pub fn embedding_sample(&self, model_id: i64, limit: usize) -> Result<(Vec<Vec<f32>>, u64)> {
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM embeddings WHERE model_id = ?1",
            [model_id],
            |r| r.get(0),
        )?;
        let step = (to_u64(total) / limit.max(1) as u64).max(1);
        let mut stmt = self.conn.prepare(
            "SELECT vector FROM (SELECT vector, row_number() OVER (ORDER BY image_id) AS n
                                 FROM embeddings WHERE model_id = ?1)
             WHERE (n - 1) % ?2 = 0 LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![model_id, step as i64, limit as i64], |r| {
            Ok(bytes_vector(&r.get::<_, Vec<u8>>(0)?))
        })?;
        Ok((rows.collect::<std::result::Result<_, _>>()?, to_u64(total)))
    }

    /// Records the tags `tagger` gave, one transaction for the batch (replacing any earlier
    /// tagger's). Images deleted meanwhile are passed over.
    pub fn record_tags(&mut self, tagger: &str, records: &[TagRecord]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM images WHERE id = ?1")?;
            let mut clear = tx.prepare_cached("DELETE FROM image_tags WHERE image_id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO image_tags (image_id, tag, score) VALUES (?1, ?2, ?3)",
            )?;
            let mut mark = tx.prepare_cached(
                "INSERT INTO image_tagged (image_id, tagger, tagged_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(image_id) DO UPDATE SET tagger = excluded.tagger,
                   tagged_at = excluded.tagged_at",
            )?;
            for r in records {
                if !exists.exists([r.image_id])? {
                    continue;
                }
                clear.execute([r.image_id])?;
                for (tag, score) in &r.tags {
                    insert.execute(params![r.image_id, tag, f64::from(*score)])?;
                }
                // Last, so the keyword index's trigger sees the new tags.
                mark.execute(params![r.image_id, tagger, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many images `tagger` has tagged (and with at least one tag), of the images with an
    /// embedding of `model_id`.
    pub fn tag_counts(&self, model_id: i64, tagger: &str) -> Result<TextCounts> {
        let (read, with_words) = self.count_pair(
            "SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM image_tags g
                                                   WHERE g.image_id = t.image_id)), 0)
             FROM image_tagged t WHERE t.tagger = ?1",
            &[tagger],
        )?;
        let images: i64 = self.conn.query_row(
            "SELECT count(*) FROM embeddings WHERE model_id = ?1",
            [model_id],
            |r| r.get(0),
        )?;
        Ok(TextCounts {
            read,
            with_words,
            images: to_u64(images),
        })
    }

    /// An image's tags, clearest first.
    pub fn tags_of(&self, image_id: i64) -> Result<Vec<(String, f32)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tag, score FROM image_tags WHERE image_id = ?1 ORDER BY score DESC, tag",
        )?;
        let rows = stmt.query_map([image_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)? as f32))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The library's most common tags (among images that have a file), most pictures first.
    pub fn common_tags(&self, limit: usize) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT g.tag, count(*) AS n FROM image_tags g
             WHERE EXISTS (SELECT 1 FROM files f WHERE f.image_id = g.image_id)
             GROUP BY g.tag ORDER BY n DESC, g.tag LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get::<_, String>(0)?, to_u64(r.get(1)?)))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Up to `limit` images `captioner` has not captioned, lowest id first, after `after`.
    pub fn uncaptioned_images(
        &self,
        captioner: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Unread>> {
        self.waiting_images(
            "SELECT i.id FROM images i
             WHERE i.id > ?2 AND NOT EXISTS (SELECT 1 FROM image_captions c
                                             WHERE c.image_id = i.id AND c.captioner = ?1)
             ORDER BY i.id LIMIT ?3",
            captioner,
            after,
            limit,
        )
    }

    /// Records what `captioner` wrote, one transaction for the batch. Images deleted meanwhile
    /// are passed over.
    pub fn record_captions(&mut self, captioner: &str, captions: &[(i64, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO image_captions (image_id, captioner, caption, made_at)
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM images WHERE id = ?1)
                 ON CONFLICT(image_id) DO UPDATE SET captioner = excluded.captioner,
                   caption = excluded.caption, made_at = excluded.made_at",
            )?;
            for (image_id, caption) in captions {
                insert.execute(params![image_id, captioner, caption, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many images `captioner` has captioned, and how many images there are.
    pub fn caption_counts(&self, captioner: &str) -> Result<TextCounts> {
        let (read, with_words) = self.count_pair(
            "SELECT count(*), coalesce(sum(caption <> ''), 0) FROM image_captions
             WHERE captioner = ?1",
            &[captioner],
        )?;
        Ok(TextCounts {
            read,
            with_words,
            images: self.count_pair("SELECT count(*), 0 FROM images", &[])?.0,
        })
    }

    /// Images tagged by any tagger, and of those, images with at least one tag.
    pub fn tag_totals(&self) -> Result<(u64, u64)> {
        self.count_pair(
            "SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM image_tags g
                                                   WHERE g.image_id = t.image_id)), 0)
             FROM image_tagged t",
            &[],
        )
    }

    /// Images captioned by any captioner, and of those, images with a caption.
    pub fn caption_totals(&self) -> Result<(u64, u64)> {
        self.count_pair(
            "SELECT count(*), coalesce(sum(caption <> ''), 0) FROM image_captions",
            &[],
        )
    }

    /// An image's caption, if it has one: `(caption, captioner)`.
    pub fn caption_of(&self, image_id: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT caption, captioner FROM image_captions WHERE image_id = ?1 AND caption <> ''",
                [image_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}
