//! Catalog connections for reading, reused across requests: opening one per request costs more
//! than a query (a file open, pragmas, the schema parsed, and no statement cache).

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use trove_engine::catalog::{Catalog, CatalogError};

/// Connections kept open between requests.
const KEPT: usize = 16;

/// The pool.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Catalog>>,
}

/// A connection borrowed from [`Readers`]; it goes back when dropped.
#[derive(Debug)]
pub struct Reader<'a> {
    readers: &'a Readers,
    catalog: Option<Catalog>,
}

impl Readers {
    /// A pool for the catalog at `path` (nothing is opened yet).
    pub fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, or a new one.
    pub fn get(&self) -> Result<Reader<'_>, CatalogError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let catalog = match idle {
            Some(c) => c,
            None => Catalog::open(&self.path)?,
        };
        Ok(Reader {
            readers: self,
            catalog: Some(catalog),
        })
    }
}

impl std::ops::Deref for Reader<'_> {
    type Target = Catalog;

    fn deref(&self) -> &Catalog {
        self.catalog
            .as_ref()
            .expect("invariant: present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let mut idle = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = self.catalog.take().filter(|_| idle.len() < KEPT) {
            idle.push(c);
        }
    }
}
