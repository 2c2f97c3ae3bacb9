//! Plain serde types that cross the wire between the server and the browser.

use serde::{Deserialize, Serialize};

/// What the server knows about itself, shown on the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The `trove` version serving the page.
    pub version: String,
    /// Library roots the server was configured with, as the user wrote them.
    pub libraries: Vec<String>,
    /// Hugging Face id (or folder) of the configured embedding model.
    pub model: String,
    /// Whether that model is installed, and if not, how to install it.
    pub model_status: String,
    /// The compute device preference (`auto`, `cpu` or `gpu`).
    pub device: String,
}
