//! `/`: what Trove is serving, and from where.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_library_status, get_server_info};
use crate::components::results::SearchBox;
use crate::types::{LibraryStatus, ServerInfo};

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    // Blocking resource: the server waits for it, so the info is in the first HTML.
    let info = Resource::new_blocking(|| (), |_| get_server_info());
    let status = Resource::new_blocking(|| (), |_| get_library_status());
    view! {
        <Title text=""/>
        <SearchBox value=""/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(status) => view! { <StatusPanel status/> }.into_any(),
                    Err(err) => view! {
                        <p id="status-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
        <section class="py-10">
            <h1 class="text-3xl font-semibold tracking-tight">"Your pictures, found by meaning"</h1>
            <p class="mt-2 max-w-2xl text-stone-600 dark:text-stone-400">
                "Trove indexes the photos and memes on this machine with CLIP or SigLIP and finds them by what they show. Nothing leaves the machine."
            </p>
        </section>
        <Suspense fallback=|| view! { <p class="text-stone-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(info) => view! { <ServerInfoPanel info/> }.into_any(),
                    Err(err) => view! {
                        <p id="server-info-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The configured libraries and model.
#[component]
fn ServerInfoPanel(info: ServerInfo) -> impl IntoView {
    let libraries = if info.libraries.is_empty() {
        view! {
            <p id="no-libraries" class="text-stone-600 dark:text-stone-400">
                "No library folder is configured yet. Start Trove with "
                <code class="rounded bg-stone-200 px-1 dark:bg-stone-800">"--library <folder>"</code>
                " or set " <code class="rounded bg-stone-200 px-1 dark:bg-stone-800">"TROVE_LIBRARY"</code> "."
            </p>
        }
        .into_any()
    } else {
        view! {
            <ul id="libraries" class="list-inside list-disc">
                {info.libraries.into_iter().map(|l| view! { <li class="font-mono text-sm">{l}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <dl id="server-info" class="grid gap-4 rounded-lg border border-stone-200 bg-white p-6 sm:grid-cols-[10rem_1fr] dark:border-stone-800 dark:bg-stone-900">
            <dt class="font-medium">"Libraries"</dt>
            <dd>{libraries}</dd>
            <dt class="font-medium">"Model"</dt>
            <dd>
                <span class="font-mono text-sm">{info.model}</span>
                <p id="model-status" class="text-sm text-stone-600 dark:text-stone-400">{info.model_status}</p>
            </dd>
            <dt class="font-medium">"Device"</dt>
            <dd class="font-mono text-sm">{info.device}</dd>
            <dt class="font-medium">"Version"</dt>
            <dd class="font-mono text-sm">{info.version}</dd>
        </dl>
    }
}

/// What is indexed, the crawl's progress, and what was skipped.
#[component]
fn StatusPanel(status: LibraryStatus) -> impl IntoView {
    let c = &status.counts;
    let summary = format!(
        "{} images searchable ({} files, {} skipped)",
        c.embedded, c.files, c.skipped
    );
    let crawl = status.crawl.running.then(|| {
        let p = &status.crawl;
        let eta = p
            .eta_s
            .map(|s| format!(", about {}:{:02} left", (s as u64) / 60, (s as u64) % 60))
            .unwrap_or_default();
        format!(
            "Indexing: {} of {} files done, {} embedded, {:.1} images/s{eta}",
            p.done, p.seen, p.embedded, p.rate
        )
    });
    let state = match status.state.as_str() {
        "loading" => Some("Opening the library (loading the model and the index)…".to_owned()),
        "error" => Some(format!(
            "The library could not open: {}",
            status.error.clone().unwrap_or_default()
        )),
        _ => None,
    };
    let demo = status.demo_model.then(|| view! {
        <p id="demo-note" class="text-sm text-amber-800 dark:text-amber-300">
            "Demo model: it knows Trove's generated shapes, colours and words, not real photos. Try "
            <a class="underline" href="/search?q=a+red+circle">"a red circle"</a> " or "
            <a class="underline" href="/search?q=a+meme+that+says+hello">"a meme that says hello"</a>
            ". For real photos: " <code>"trove model pull openai/clip-vit-base-patch32"</code> "."
        </p>
    });
    let skipped = (!status.skipped.is_empty()).then(|| {
        let rows = status
            .skipped
            .iter()
            .take(10)
            .map(|s| view! { <li><span class="font-mono">{s.path.clone()}</span>": "{s.reason.clone()}</li> })
            .collect_view();
        view! {
            <details id="skipped" class="text-sm">
                <summary>"Skipped files"</summary>
                <ul class="list-inside list-disc">{rows}</ul>
            </details>
        }
    });
    view! {
        <section id="library-status" class="space-y-1 pb-2">
            {state.map(|s| view! { <p id="library-state">{s}</p> })}
            <p id="library-summary" class="text-stone-700 dark:text-stone-300">{summary}</p>
            {crawl.map(|s| view! { <p id="crawl-progress" class="text-sm">{s}</p> })}
            {demo}
            {skipped}
        </section>
    }
}
