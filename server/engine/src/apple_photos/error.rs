//! What can go wrong reading a Photos library, and which Photos release wrote it.

use std::path::PathBuf;

use thiserror::Error;

/// Why a library could not be read.
#[derive(Debug, Error)]
pub enum PhotosError {
    /// Not a folder with a Photos database.
    #[error("{path} is not a Photos library (it has no database/Photos.sqlite)")]
    NotALibrary {
        /// The folder.
        path: PathBuf,
    },
    /// A Photos library older than Photos 5.
    #[error(
        "{path} is a library of Photos 4 or older (macOS 10.14 or before), which Trove does not \
         read; open it once in a newer Photos to upgrade it"
    )]
    TooOld {
        /// The library.
        path: PathBuf,
    },
    /// The database could not be copied or read.
    #[error("cannot read the Photos database {path}")]
    Read {
        /// The database.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not an SQLite database, or a damaged one.
    #[error("{path} is not a readable Photos database (damaged, or not SQLite)")]
    Damaged {
        /// The database.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A Photos database without a table or column Trove reads.
    #[error(
        "{path} is a Photos database of a shape Trove cannot read (Photos model version \
         {version}: {missing} is missing)"
    )]
    UnknownShape {
        /// The database.
        path: PathBuf,
        /// `PLModelVersion`, or `unknown`.
        version: String,
        /// What is missing.
        missing: String,
    },
}

/// The Photos release of a model version, as osxphotos's ranges have it.
pub fn photos_release(model: i64) -> Option<&'static str> {
    Some(match model {
        13000..=13999 => "Photos 5 (macOS 10.15)",
        14000..=14999 => "Photos 6 (macOS 11)",
        15000..=15999 => "Photos 7 (macOS 12)",
        16000..=16999 => "Photos 8 (macOS 13)",
        17000..=17599 => "Photos 9 (macOS 14)",
        17600..=17999 => "Photos 9 (macOS 14.6)",
        18000..=18200 => "Photos 10 beta (macOS 15 beta)",
        18201..=18999 => "Photos 10 (macOS 15)",
        _ => return None,
    })
}
