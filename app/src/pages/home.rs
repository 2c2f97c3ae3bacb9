//! `/`: the search box, the library's live status, and the library itself to browse (newest
//! first), so there is always something to click.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{
    get_common_tags, get_library_status, get_server_info, get_viewer, search_images, SelectModel,
};
use crate::components::grid::ResultGrid;
use crate::components::libraries::Libraries;
use crate::components::lightbox::tag_href;
use crate::components::models::ModelPanel;
use crate::components::results::SearchBox;
use crate::components::status::StatusPanel;
use crate::types::{SearchRequest, ServerInfo, PAGE_SIZE};

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    // Blocking resources: the server waits for them, so they are in the first HTML.
    let select_model = ServerAction::<SelectModel>::new();
    // Asked again after a model change, so the panel below names the model in use.
    let info = Resource::new_blocking(move || select_model.version().get(), |_| get_server_info());
    let status = Resource::new_blocking(
        || (),
        |_| async move {
            Ok::<_, crate::error::AppError>((get_library_status().await?, get_viewer().await?))
        },
    );
    let browse = SearchRequest {
        limit: PAGE_SIZE,
        ..SearchRequest::default()
    };
    let library = Resource::new_blocking(
        || (),
        move |_| {
            let request = SearchRequest {
                limit: PAGE_SIZE,
                ..SearchRequest::default()
            };
            search_images(request)
        },
    );
    view! {
        <Title text=""/>
        <SearchBox value=""/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match status.await {
                    Ok((initial, viewer)) => view! { <StatusPanel initial viewer/> }.into_any(),
                    Err(err) => view! {
                        <p id="status-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
        <section class="py-6">
            <h1 class="text-3xl font-semibold tracking-tight">"Your pictures, found by meaning"</h1>
            <p class="mt-2 max-w-2xl text-stone-600 dark:text-stone-400">
                "Trove indexes the photos and memes on this machine with CLIP or SigLIP and finds them by what they show. Type what you are looking for, click a picture for its look-alikes, or paste or drop an image anywhere. Nothing leaves the machine."
            </p>
        </section>
        <CommonTags/>
        <section id="browse" aria-label="Your library, newest first" class="pb-8">
            <h2 class="pb-3 text-lg font-medium">"Your library, newest first"</h2>
            <Suspense fallback=|| view! { <p class="text-stone-500">"Loading…"</p> }>
                {move || {
                    let request = browse.clone();
                    Suspend::new(async move {
                        match library.await {
                            Ok(page) => view! { <ResultGrid first=page request/> }.into_any(),
                            // Still opening, or failed: the status panel above says which.
                            Err(_) => ().into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
        <Suspense fallback=|| view! { <p class="text-stone-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let admin = matches!(status.await, Ok((_, viewer)) if viewer.admin);
                match info.await {
                    Ok(info) => view! {
                        <Libraries admin/>
                        {admin.then(|| view! { <ModelPanel select=select_model/> })}
                        <ServerInfoPanel info/>
                    }.into_any(),
                    Err(err) => view! {
                        <p id="server-info-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The library's most common tags, each a link to its pictures (nothing until pictures have
/// tags).
#[component]
fn CommonTags() -> impl IntoView {
    let tags = Resource::new_blocking(|| (), |_| get_common_tags());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match tags.await {
                    Ok(tags) if !tags.is_empty() => view! {
                        <section id="common-tags" aria-label="Common tags" class="pb-6">
                            <h2 class="pb-2 text-lg font-medium">"Browse by tag"</h2>
                            <ul class="flex flex-wrap gap-2">
                                {tags.into_iter().map(|t| view! {
                                    <li><a class="common-tag rounded-full border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800" href=tag_href(&t.tag)>
                                        {t.tag.clone()}<span class="pl-1 text-stone-500">{t.images.to_string()}</span>
                                    </a></li>
                                }).collect_view()}
                            </ul>
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// The model, device and version.
#[component]
fn ServerInfoPanel(info: ServerInfo) -> impl IntoView {
    view! {
        <dl id="server-info" class="grid gap-4 rounded-lg border border-stone-200 bg-white p-6 sm:grid-cols-[10rem_1fr] dark:border-stone-800 dark:bg-stone-900">
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
