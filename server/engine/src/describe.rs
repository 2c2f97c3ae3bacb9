//! Captions in crawls: which captioner describes the library, whether it runs, and why not.
//!
//! Captions are on by default where they come at a useful speed: on a GPU, or with a small
//! captioner (the built-in demo captioner, a few megabytes). A full Florence-2 on a CPU writes
//! a caption every few seconds (about 7 s for the base model on a 2-core machine), days for a
//! large library, so there it waits until the user turns captions on (`--captions on`,
//! `captions = "on"`); the status says so.

use std::path::Path;

use trove_models::demo::{DEMO_CAPTIONER, DEMO_MODEL};
use trove_models::florence2::Captioner;
use trove_models::{Compute, ComputeKind, DevicePreference};

use crate::model_store::ModelStore;

/// Florence-2 repositories looked for, best first, when no captioner is named.
pub const CAPTIONERS: [&str; 2] = [
    "florence-community/Florence-2-large",
    "florence-community/Florence-2-base",
];

/// Weights up to this size count as small enough to caption on a CPU by default.
const SMALL_WEIGHTS: u64 = 64 << 20;

/// Whether crawls caption pictures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptionChoice {
    /// On a GPU or with a small captioner; off on a CPU with a full one.
    #[default]
    Auto,
    /// Always (when a captioner is installed).
    On,
    /// Never.
    Off,
}

impl CaptionChoice {
    /// `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(CaptionChoice::Auto),
            "on" | "true" | "yes" => Some(CaptionChoice::On),
            "off" | "false" | "no" => Some(CaptionChoice::Off),
            _ => None,
        }
    }
}

/// A loaded captioner and the id its captions are recorded under (name, weights, task).
pub struct Describer {
    /// What `image_captions.captioner` records.
    pub id: String,
    /// The captioner's id or folder.
    pub name: String,
    /// The model.
    pub captioner: Captioner,
}

impl std::fmt::Debug for Describer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Describer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The captioner to use: the one named, else an installed Florence-2, else the demo
/// captioner when the embedding model is the demo model (both know only generated pictures).
pub fn choose(store: &ModelStore, named: Option<&str>, model: &str) -> Option<String> {
    if let Some(named) = named {
        return Some(named.to_owned());
    }
    CAPTIONERS
        .iter()
        .find(|repo| store.resolve_captioner(repo).is_ok())
        .map(|repo| (*repo).to_owned())
        .or_else(|| (model == DEMO_MODEL).then(|| DEMO_CAPTIONER.to_owned()))
}

/// Loads the captioner crawls use, or says why there is none.
pub fn load(
    data_dir: &Path,
    choice: CaptionChoice,
    named: Option<&str>,
    model: &str,
    device: DevicePreference,
) -> Result<Describer, String> {
    if choice == CaptionChoice::Off {
        return Err("captions are turned off".into());
    }
    let store = ModelStore::new(data_dir);
    let Some(name) = choose(&store, named, model) else {
        return Err(format!(
            "no captioner is installed (trove model pull {})",
            CAPTIONERS[1]
        ));
    };
    let dir = store
        .resolve_captioner(&name)
        .map_err(|e| crate::error_chain(&e))?;
    let compute = Compute::select(device).map_err(|e| crate::error_chain(&e))?;
    let weights = std::fs::metadata(dir.join("model.safetensors")).map_or(0, |m| m.len());
    let gpu = matches!(compute.kind, ComputeKind::Gpu { hardware: true, .. });
    if choice == CaptionChoice::Auto && !gpu && weights > SMALL_WEIGHTS {
        return Err(format!(
            "{name} writes about one caption every few seconds on this CPU, so captions wait until you turn them on (--captions on, or captions = \"on\" in the config file)"
        ));
    }
    let fingerprint = crate::model_store::weights_fingerprint(&dir)
        .map_err(|(path, e)| format!("cannot read {}: {e}", path.display()))?;
    let captioner = Captioner::load(&dir, &compute).map_err(|e| crate::error_chain(&e))?;
    Ok(Describer {
        id: format!("{name}@{fingerprint}/caption"),
        name,
        captioner,
    })
}
