//! Trove's web UI and the types the browser and the server share.
//!
//! Built twice: natively with the `ssr` feature (linked into the `trove` server, which renders
//! pages and runs the server functions) and to WebAssembly with `hydrate` (the `frontend`
//! crate). Native-only dependencies never enter this crate; the server's work is reached
//! through the [`ssr::Services`] handle that it puts into Leptos context.

pub mod api;
pub mod components;
pub mod error;
pub mod format;
pub mod pages;
pub mod redact;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod types;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                // Applies a saved theme before the first paint, so a dark page never flashes white.
                <script nonce=leptos::nonce::use_nonce()>{components::theme::EARLY_THEME_SCRIPT}</script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="min-h-screen bg-stone-50 text-stone-900 antialiased dark:bg-stone-950 dark:text-stone-100">
                <App/>
            </body>
        </html>
    }
}

/// The document title for a page's own title (which may be a search query, so request data).
///
/// On the server, leptos_meta writes the title into `<title>` as it is, without escaping, so it
/// is escaped here; in the browser it becomes `document.title`, which is plain text.
fn title_text(page: String) -> String {
    let title = if page.is_empty() {
        "Trove".to_owned()
    } else {
        format!("{page} · Trove")
    };
    if cfg!(feature = "ssr") {
        format::escape_html(&title)
    } else {
        title
    }
}

/// The application: routes and the page chrome shared by every page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        // cargo-leptos writes the compiled stylesheet to /pkg/<output-name>.css.
        <Stylesheet id="leptos" href="/pkg/trove.css"/>
        <Title formatter=title_text/>
        <Router>
            <components::header::Header/>
            <components::drop::PageInput/>
            <main class="mx-auto max-w-6xl px-4 pb-16">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=StaticSegment("") view=pages::home::HomePage/>
                    // Async: the whole page waits for its results, so a shared link shows them
                    // even to a browser without JavaScript (streamed chunks need a script).
                    <Route path=StaticSegment("search") view=pages::search::SearchPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("similar"), ParamSegment("id")) view=pages::similar::SimilarPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
