//! `/`: what Trove is serving, and from where.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::get_server_info;
use crate::types::ServerInfo;

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    // Blocking resource: the server waits for it, so the info is in the first HTML.
    let info = Resource::new_blocking(|| (), |_| get_server_info());
    view! {
        <Title text=""/>
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
