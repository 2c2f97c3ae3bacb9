//! Stand-ins: for photos whose original is offline or lost, Lightroom's largest preview written
//! as a JPEG under the data directory's `stand-ins/` (a folder per catalog), where crawls index
//! it in the original's place. Each import rewrites the folder to match the catalog: a preview
//! that changed is written again, one no longer needed (its original came back, the photo left
//! the catalog) is deleted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::recover::{exif_time, recovered_name, unix_time, with_capture_time};
use super::{LrPhoto, Previews, PreviewsError};

/// Writes the stand-in of each of `missing` that has a preview, under `dir`; returns where each
/// photo's went (by its id) and deletes what else `dir` held.
pub(super) fn write(
    previews: Option<&Previews>,
    missing: &[&LrPhoto],
    dir: &Path,
) -> Result<HashMap<i64, PathBuf>, PreviewsError> {
    let mut out = HashMap::new();
    let mut taken = HashSet::new();
    if let Some(previews) = previews {
        for photo in missing {
            let preview = match previews.largest(photo.id) {
                Ok(Ok(p)) => p,
                Ok(Err(why)) => {
                    tracing::debug!(photo = photo.id, %why, "no stand-in");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Lightroom's previews index cannot be read");
                    break;
                }
            };
            let dest = recovered_name(photo, dir, &|p| taken.contains(p));
            taken.insert(dest.clone());
            let jpeg = match photo.capture_time.as_deref().and_then(exif_time) {
                Some(t) => with_capture_time(&preview.jpeg, &t),
                None => preview.jpeg,
            };
            let written = crate::fsutil::write_if_changed(&dest, &jpeg).map_err(|source| {
                PreviewsError::Write {
                    path: dest.clone(),
                    source,
                }
            })?;
            if written {
                if let Some(secs) = photo.capture_time.as_deref().and_then(unix_time) {
                    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                    if let Ok(f) = std::fs::File::options().write(true).open(&dest) {
                        let _ = f.set_modified(when);
                    }
                }
            }
            out.insert(photo.id, dest);
        }
    }
    crate::fsutil::prune_except(dir, &taken);
    Ok(out)
}
