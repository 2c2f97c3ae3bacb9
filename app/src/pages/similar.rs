//! `/similar/<id>`: images that look like image `id`, rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::search_images;
use crate::components::grid::ResultGrid;
use crate::components::results::{filters_param, href, offset_param, SearchBox};
use crate::types::{SearchRequest, PAGE_SIZE};

/// The look-alikes page.
#[component]
pub fn SimilarPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let request = Memo::new(move |_| {
        id().map(|id| SearchRequest {
            q: None,
            similar_to: Some(id),
            upload: None,
            filters: filters_param(query),
            offset: offset_param(query),
            limit: PAGE_SIZE,
        })
    });
    let results = Resource::new_blocking(
        move || request.get(),
        |request| async move {
            let Some(request) = request else {
                return Err(crate::error::AppError::BadRequest(
                    "image ids are numbers".into(),
                ));
            };
            search_images(request.clone())
                .await
                .map(|page| (page, request))
        },
    );
    view! {
        <Title text="Similar images"/>
        <SearchBox value=""/>
        {move || id().map(|id| view! {
            <div class="flex flex-wrap items-center gap-4 pb-4">
                <a href=format!("/image/{id}") target="_blank" rel="noopener" title="Open the original">
                    <img id="source" src=format!("/thumb/{id}") alt="the image these look like" class="h-24 rounded-md"/>
                </a>
                <h1 class="text-xl font-medium">"Looks like this"</h1>
            </div>
        })}
        <Suspense fallback=|| view! { <p class="text-stone-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok((page, request)) => {
                        let more = page.next_offset.zip(request.similar_to).map(|(n, id)| {
                            let n = n.to_string();
                            let mut params = request.filters.pairs();
                            params.push(("offset", &n));
                            href(&format!("/similar/{id}"), &params)
                        });
                        view! { <ResultGrid first=page request more/> }.into_any()
                    }
                    Err(err) => view! {
                        <p id="search-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
