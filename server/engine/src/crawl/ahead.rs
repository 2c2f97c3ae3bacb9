//! Decoding one picture ahead of a pass after embedding (the text reader's, the captioner's):
//! the images a query names, in id order, each read through its first file that is still
//! the one the crawl indexed, on a thread of its own with its own catalog connection.

use crossbeam_channel::Sender;

use super::{CrawlError, Stage};
use crate::catalog::{Catalog, CatalogError, Unread};
use crate::images::first_inside_roots;
use crate::media::decode;

/// One image, decoded (or why not).
pub(super) struct Decoded {
    /// The image.
    pub image_id: i64,
    /// RGB8 with its width and height; `None` when no file could be read or decoded (the
    /// image is recorded as done with nothing found: its content is fixed by its hash).
    pub pixels: Option<(Vec<u8>, usize, usize)>,
    /// The file changed since it was indexed: leave the image for the next crawl.
    pub changed: bool,
}

/// Sends the images `next(catalog, after, limit)` lists, `batch` at a time, decoded with the
/// short side at least `side`, until it lists none, the pass stops, or the receiver is gone.
pub(super) fn decode_ahead(
    stage: &Stage<'_>,
    side: u32,
    batch: usize,
    next: impl Fn(&Catalog, i64, usize) -> Result<Vec<Unread>, CatalogError>,
    tx: &Sender<Decoded>,
) -> Result<(), CrawlError> {
    let catalog = Catalog::open(stage.parts.catalog)?;
    let limits = stage.config.limits;
    let mut after = 0;
    loop {
        let waiting = next(&catalog, after, batch)?;
        let Some(last) = waiting.last() else {
            return Ok(());
        };
        after = last.image_id;
        for image in waiting {
            if stage.stopped() {
                return Ok(());
            }
            let item = match first_inside_roots(&catalog, &image.files)? {
                None => Decoded {
                    image_id: image.image_id,
                    pixels: None,
                    changed: !image.files.is_empty(),
                },
                Some(original) => Decoded {
                    image_id: image.image_id,
                    pixels: decode(&original.bytes, side, limits).ok().map(|d| {
                        let (w, h) = d.rgb.dimensions();
                        (d.rgb.into_raw(), w as usize, h as usize)
                    }),
                    changed: false,
                },
            };
            if tx.send(item).is_err() {
                return Ok(());
            }
        }
    }
}
