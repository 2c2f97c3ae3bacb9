//! The native half of Trove: command line, settings, and the axum server that renders the
//! Leptos app and answers its server functions.

pub mod cli;
pub mod logging;
pub mod model_cmd;
pub mod model_store;
pub mod services;
pub mod settings;
pub mod web;
