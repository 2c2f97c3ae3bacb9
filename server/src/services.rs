//! The native services behind the server functions (see [`app::ssr::Backend`]).

use app::types::ServerInfo;

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
            device: self.settings.device.as_str().to_owned(),
        }
    }
}
