//! Reusable pieces of page chrome.

pub mod drop;
pub mod grid;
pub mod header;
pub mod libraries;
pub mod lightbox;
pub mod models;
pub mod results;
pub mod status;
pub mod theme;
pub mod why;

use leptos::prelude::*;

/// What an admin's action answered: its message in green, or its error in red.
pub fn action_message(id: &'static str, result: Result<String, crate::error::AppError>) -> AnyView {
    match result {
        Ok(message) => {
            view! { <p id=id class="text-sm text-green-800 dark:text-green-400">{message}</p> }
                .into_any()
        }
        Err(e) => {
            view! { <p id=id class="text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> }
                .into_any()
        }
    }
}
