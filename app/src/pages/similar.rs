//! `/similar/<id>`: images that look like image `id`, rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::search_images;
use crate::components::results::{offset_param, ResultGrid, SearchBox};
use crate::types::{SearchRequest, PAGE_SIZE};

/// The look-alikes page.
#[component]
pub fn SimilarPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let offset = move || offset_param(query);
    let results = Resource::new_blocking(
        move || (id(), offset()),
        |(id, offset)| async move {
            match id {
                None => Err(crate::error::AppError::BadRequest(
                    "image ids are numbers".into(),
                )),
                Some(id) => {
                    search_images(SearchRequest {
                        q: None,
                        similar_to: Some(id),
                        offset,
                        limit: PAGE_SIZE,
                    })
                    .await
                }
            }
        },
    );
    view! {
        <Title text="Similar images"/>
        <SearchBox value=""/>
        {move || id().map(|id| view! {
            <div class="flex items-center gap-4 pb-4">
                <img id="source" src=format!("/thumb/{id}") alt="the image these look like" class="h-24 rounded-md"/>
                <h1 class="text-xl font-medium">"Looks like this"</h1>
            </div>
        })}
        <Suspense fallback=|| view! { <p class="text-stone-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(page) => {
                        let more = page
                            .next_offset
                            .zip(id())
                            .map(|(n, id)| format!("/similar/{id}?offset={n}"));
                        view! { <ResultGrid page more/> }.into_any()
                    }
                    Err(err) => view! {
                        <p id="search-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
