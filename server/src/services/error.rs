//! Why a request to the services failed, as types, and the one mapping of those to the wire
//! error ([`AppError`]) that server functions and JSON routes both send: a person's mistake is
//! a 4xx with what to do; the server's own failure is a 500 whose details go to the log only.

use std::sync::Arc;

use app::error::AppError;
use trove_engine::catalog::CatalogError;
use trove_engine::controller::StartError;
use trove_engine::embed::{EmbedError, PrepareError};
use trove_engine::model_store::ModelStoreError;
use trove_engine::search::SearchError;
use trove_engine::EngineError;

/// Why a request to the services failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The library (model and index) is still opening.
    #[error(
        "the library is still opening (loading the model and the index); try again in a moment"
    )]
    Opening,
    /// The library could not open.
    #[error("the library could not open")]
    OpenFailed(#[source] Arc<EngineError>),
    /// The query failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An uploaded image could not be used.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// A library folder could not be added or removed.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// A photographer's catalog could not be imported.
    #[error(transparent)]
    Import(#[from] trove_engine::lightroom::ImportError),
    /// An Apple Photos library could not be imported.
    #[error(transparent)]
    PhotosImport(#[from] trove_engine::apple_photos::ImportError),
    /// The model could not be listed or switched.
    #[error(transparent)]
    Model(#[from] ModelChoiceError),
    /// A crawl could not start.
    #[error(transparent)]
    Crawl(#[from] StartError),
    /// The library folders could not be prepared for a crawl (the demo library, say).
    #[error("cannot prepare the library folders")]
    Roots(#[source] RootsError),
    /// The previews standing in for a forgotten catalog's offline originals could not be
    /// deleted.
    #[error("cannot delete the previews that stood in for the catalog's offline originals")]
    StandIns(#[source] std::io::Error),
}

/// Why an uploaded image could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over the size limit.
    #[error("the image is {mb} MB; uploads are limited to {limit_mb} MB")]
    TooLarge {
        /// Its size.
        mb: usize,
        /// The limit.
        limit_mb: usize,
    },
    /// It is not an image Trove can read (the message says why).
    #[error("the upload cannot be used")]
    Unreadable(#[source] PrepareError),
    /// The model failed on it.
    #[error("the upload could not be embedded")]
    Model(#[source] EmbedError),
    /// Its preview could not be made.
    #[error("the upload's preview could not be made")]
    Preview(#[source] std::io::Error),
    /// A key the server no longer (or never) had.
    #[error("the uploaded image {key} is no longer on this server (it keeps the {kept} most recent, until it restarts); upload it again")]
    Gone {
        /// The key asked for.
        key: String,
        /// How many uploads are kept.
        kept: usize,
    },
    /// Embedded with a model that is no longer in use.
    #[error("the uploaded image was embedded with another model; upload it again")]
    OtherModel,
}

/// Why a library folder could not be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// Not an absolute path.
    #[error("give the folder's full path (like /home/me/Pictures), not {0:?}")]
    NotAbsolute(String),
    /// It cannot be opened.
    #[error("{path} cannot be opened")]
    Missing {
        /// As given.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file, not a folder.
    #[error("{0} is not a folder")]
    NotAFolder(String),
    /// Its entries cannot be listed.
    #[error("{path} cannot be read")]
    Unreadable {
        /// As given.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Inside the data directory.
    #[error("{0} is inside Trove's own data folder")]
    InsideData(String),
    /// The whole disk or the home folder (allowed only from the command line).
    #[error("{0} is too broad to be a library (it would index every icon, cache and download): add the picture folders inside it instead")]
    TooBroad(String),
    /// Already a library.
    #[error("{0} is already a library")]
    Known(String),
    /// Not a library.
    #[error("{0} is not a library")]
    Unknown(String),
    /// Configured, so only the configuration can remove it.
    #[error("{0} comes from Trove's configuration (--library, TROVE_LIBRARY or the config file): remove it there")]
    Configured(String),
    /// A crawl is running.
    #[error("a crawl is running: stop it first, then remove the folder")]
    CrawlRunning,
}

/// Why the model could not be listed or switched.
#[derive(Debug, thiserror::Error)]
pub enum ModelChoiceError {
    /// No model named.
    #[error("choose a model")]
    Empty,
    /// Not the id of an installed model (a folder path, say: only the command line takes those).
    #[error(
        "{0:?} is not an installed model; install it on the server with `trove model pull <id>`"
    )]
    NotOffered(String),
    /// Not installed, or not a valid id.
    #[error(transparent)]
    NotInstalled(Box<ModelStoreError>),
    /// Installed but incomplete or invalid.
    #[error("{model}: {problem}")]
    Broken {
        /// The model.
        model: String,
        /// What is wrong.
        problem: String,
    },
    /// It could not be loaded.
    #[error("{model} cannot be used")]
    Unusable {
        /// The model.
        model: String,
        /// Why.
        #[source]
        source: Box<EngineError>,
    },
    /// The models folder could not be read.
    #[error("the installed models cannot be listed")]
    List(#[source] Box<ModelStoreError>),
    /// The choice could not be kept in the data directory.
    #[error("the choice cannot be saved in the data directory")]
    Save(#[source] std::io::Error),
    /// Another change is under way.
    #[error("another model change is under way; wait for it to finish")]
    Busy,
    /// The running crawl did not stop in time for the change.
    #[error("the running crawl did not stop in time; try again when it has")]
    CrawlDidNotStop,
}

/// Why the folders to crawl could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// The catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The demo library could not be written.
    #[error("cannot write the demo library into {path}")]
    Demo {
        /// Its folder.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<ServiceError> for AppError {
    /// The one mapping: exhaustive, no wildcard, so a new error must be placed here.
    fn from(e: ServiceError) -> Self {
        let words = trove_engine::error_chain(&e);
        match &e {
            ServiceError::Opening | ServiceError::OpenFailed(_) => AppError::Unavailable(words),
            ServiceError::Search(s) => match s {
                SearchError::BadQuery(m) => AppError::BadRequest(m.clone()),
                SearchError::NotFound(_) => AppError::NotFound(words),
                SearchError::Catalog(_) | SearchError::Vectors(_) | SearchError::Model(_) => {
                    internal(&words)
                }
            },
            ServiceError::Upload(u) => match u {
                UploadError::TooLarge { .. } | UploadError::Unreadable(_) => {
                    AppError::BadRequest(words)
                }
                UploadError::Gone { .. } | UploadError::OtherModel => AppError::NotFound(words),
                UploadError::Model(_) | UploadError::Preview(_) => internal(&words),
            },
            ServiceError::Folder(f) => match f {
                FolderError::NotAbsolute(_)
                | FolderError::Missing { .. }
                | FolderError::NotAFolder(_)
                | FolderError::Unreadable { .. }
                | FolderError::InsideData(_)
                | FolderError::TooBroad(_)
                | FolderError::Known(_)
                | FolderError::Unknown(_) => AppError::BadRequest(words),
                FolderError::Configured(_) | FolderError::CrawlRunning => AppError::Conflict(words),
            },
            ServiceError::Import(i) => {
                use trove_engine::lightroom::{ImportError, LrcatError};
                match i {
                    ImportError::Lightroom(LrcatError::Busy { .. }) => AppError::Conflict(words),
                    ImportError::Lightroom(_) => AppError::BadRequest(words),
                    ImportError::Catalog(_) | ImportError::StandIn(_) => internal(&words),
                }
            }
            ServiceError::PhotosImport(i) => {
                use trove_engine::apple_photos::{ImportError, PhotosError};
                match i {
                    ImportError::Photos(PhotosError::Read { .. })
                    | ImportError::StandIn { .. }
                    | ImportError::Catalog(_) => internal(&words),
                    ImportError::Photos(_) => AppError::BadRequest(words),
                }
            }
            ServiceError::Model(m) => match m {
                ModelChoiceError::Empty
                | ModelChoiceError::NotOffered(_)
                | ModelChoiceError::NotInstalled(_)
                | ModelChoiceError::Broken { .. }
                | ModelChoiceError::Unusable { .. } => AppError::BadRequest(words),
                ModelChoiceError::Busy | ModelChoiceError::CrawlDidNotStop => {
                    AppError::Conflict(words)
                }
                ModelChoiceError::List(_) | ModelChoiceError::Save(_) => internal(&words),
            },
            ServiceError::Crawl(c) => match c {
                StartError::Running | StartError::NoRoots => AppError::Conflict(words),
                StartError::Thread(_) => internal(&words),
            },
            ServiceError::Catalog(_) | ServiceError::Roots(_) | ServiceError::StandIns(_) => {
                internal(&words)
            }
        }
    }
}

/// The server's own failure: logged with its causes; the client gets no internals.
fn internal(words: &str) -> AppError {
    tracing::error!(error = %words, "request failed");
    AppError::Internal("the server failed; its log has the details".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_mistake_is_a_4xx_that_says_why_and_the_servers_own_failure_a_500() {
        let status = |e: ServiceError| AppError::from(e).status_code();
        assert_eq!(status(ServiceError::Opening), 503);
        assert_eq!(
            status(SearchError::BadQuery("limit must be between 1 and 200".into()).into()),
            400
        );
        assert_eq!(status(SearchError::NotFound(7).into()), 404);
        assert_eq!(status(FolderError::NotAFolder("/a".into()).into()), 400);
        assert_eq!(status(FolderError::CrawlRunning.into()), 409);
        assert_eq!(status(StartError::Running.into()), 409);
        assert_eq!(status(ModelChoiceError::Busy.into()), 409);
        // An I/O failure saving the choice, or a thread that cannot start, is the server's.
        let io = || std::io::Error::other("disk full");
        assert_eq!(status(ModelChoiceError::Save(io()).into()), 500);
        assert_eq!(status(StartError::Thread(io()).into()), 500);
        let gone = UploadError::Gone {
            key: "abc".into(),
            kept: 256,
        };
        assert_eq!(status(gone.into()), 404);
        // The message carries the cause for a person, and no internals for a 500.
        let missing = FolderError::Missing {
            path: "/no/such".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let AppError::BadRequest(words) = AppError::from(ServiceError::from(missing)) else {
            panic!("a 400");
        };
        assert!(
            words.contains("/no/such") && words.contains("not found"),
            "{words}"
        );
        let AppError::Internal(words) =
            AppError::from(ServiceError::from(ModelChoiceError::Save(io())))
        else {
            panic!("a 500");
        };
        assert!(!words.contains("disk full"), "{words}");
    }
}
