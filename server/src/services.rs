//! The native services behind the server functions (see [`app::ssr::Backend`]).

use app::types::ServerInfo;

use crate::model_store::{describe, ModelStore};
use crate::settings::Settings;

/// Everything the running server owns. Grows with the catalog, the models and the index.
pub struct Trove {
    settings: Settings,
}

impl Trove {
    /// Opens Trove's services for these settings, creating the data directory if needed.
    pub fn open(settings: Settings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)?;
        Ok(Trove { settings })
    }

    /// Whether the configured model is installed, in words.
    fn model_status(&self) -> String {
        let store = ModelStore::new(&self.settings.data_dir);
        match store.resolve(&self.settings.model) {
            Ok(dir) => {
                let model = describe(&dir, self.settings.model.clone());
                match (model.family, model.dim, model.problem) {
                    (Some(family), Some(dim), None) => format!("installed: {family}, {dim}-d"),
                    (.., Some(problem)) => problem,
                    _ => format!("model folder {}", dir.display()),
                }
            }
            Err(e) => e.to_string(),
        }
    }

    /// The settings Trove was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl app::ssr::Backend for Trove {
    fn info(&self) -> ServerInfo {
        ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            libraries: self
                .settings
                .libraries
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            model: self.settings.model.clone(),
            model_status: self.model_status(),
            device: self.settings.device.as_str().to_owned(),
        }
    }
}
