//! The services as the Leptos app reaches them ([`app::ssr::Backend`]): each call maps its
//! error through the one mapping in [`super::error`].

use app::error::AppError;
use app::types::{LibraryList, LibraryStatus, ModelList, SearchPage, SearchRequest, ServerInfo};

use super::Trove;

impl app::ssr::Backend for Trove {
    fn status(&self) -> LibraryStatus {
        Trove::status(self)
    }

    fn search(&self, request: SearchRequest) -> Result<SearchPage, AppError> {
        Ok(self.search_request(request)?)
    }

    fn start_crawl(&self) -> Result<(), AppError> {
        Ok(Trove::start_crawl(self)?)
    }

    fn stop_crawl(&self) {
        self.crawler().stop();
    }

    fn common_tags(&self, limit: usize) -> Result<Vec<app::types::TagCount>, AppError> {
        Ok(Trove::common_tags(self, limit)?)
    }

    fn libraries(&self) -> Result<LibraryList, AppError> {
        Ok(Trove::libraries(self)?)
    }

    fn add_library(&self, path: &str) -> Result<String, AppError> {
        Ok(Trove::add_library(self, path)?)
    }

    fn remove_library(&self, path: &str) -> Result<String, AppError> {
        Ok(Trove::remove_library(self, path)?)
    }

    fn models(&self) -> Result<ModelList, AppError> {
        Ok(Trove::models(self)?)
    }

    fn select_model(&self, model: &str) -> Result<String, AppError> {
        Ok(Trove::select_model(self, model)?)
    }

    fn shows_paths_to(&self, viewer: app::types::Viewer) -> bool {
        Trove::shows_paths_to(self, viewer)
    }

    fn info(&self) -> ServerInfo {
        ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            libraries: self
                .settings()
                .libraries
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            model: self.active_model(),
            model_status: self.model_status(),
            device: self.settings().device.as_str().to_owned(),
        }
    }
}
