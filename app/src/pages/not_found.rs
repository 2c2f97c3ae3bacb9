//! The page for any URL that matches no route.

use leptos::prelude::*;
use leptos_meta::Title;

/// Rendered with status 404 for unknown paths.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <section class="py-24 text-center">
            <h1 class="text-2xl font-semibold">"Nothing here"</h1>
            <p class="mt-2 text-stone-600 dark:text-stone-400">"This page does not exist."</p>
            <a href="/" class="mt-6 inline-block text-amber-700 underline dark:text-amber-400">"Back to Trove"</a>
        </section>
    }
}
