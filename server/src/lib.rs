//! The `trove` binary around the engine ([`trove_engine`]): the command line ([`cli`],
//! [`settings`], [`commands`]), the services behind the web UI and the JSON API ([`services`]),
//! and the HTTP server ([`web`]).

pub mod breadth;
pub mod cli;
pub mod commands;
pub mod logging;
pub mod services;
pub mod settings;
pub mod web;
