//! Server functions: thin wrappers that call the server's services and map their errors.

// Server functions must be `async` whether or not their body awaits.
#![allow(clippy::unused_async)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::ServerInfo;

/// Facts about the running server for the home page.
#[server(prefix = "/api/fn", endpoint = "server_info")]
pub async fn get_server_info() -> Result<ServerInfo, AppError> {
    let services = crate::ssr::services()?;
    Ok(services.info())
}
