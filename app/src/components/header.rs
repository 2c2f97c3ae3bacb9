//! The bar at the top of every page.

use leptos::prelude::*;

use super::theme::ThemeToggle;

/// Site name and the theme switch.
#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="mx-auto flex max-w-6xl items-center justify-between px-4 py-4">
            <a href="/" class="text-xl font-bold tracking-tight text-amber-700 dark:text-amber-400">"Trove"</a>
            <ThemeToggle/>
        </header>
    }
}
