//! `/search?q=…` (text, `-word` negatives, refinements) and `/search?upload=KEY` (an uploaded
//! image, optionally with text): the first page is rendered on the server, so a shared link
//! shows results before (and without) the WebAssembly.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::search_images;
use crate::components::grid::ResultGrid;
use crate::components::results::{filters_param, href, offset_param, SearchBox};
use crate::types::{SearchRequest, PAGE_SIZE};

pub use crate::components::results::encode;

/// The search results page.
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| {
        let q = query.read();
        let text = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        SearchRequest {
            q: text("q"),
            similar_to: None,
            upload: text("upload"),
            filters: filters_param(query),
            offset: offset_param(query),
            limit: PAGE_SIZE,
        }
    });
    let results = Resource::new_blocking(
        move || request.get(),
        |request| async move {
            if request.q.is_none() && request.upload.is_none() && request.filters.is_empty() {
                return Ok(None);
            }
            search_images(request.clone())
                .await
                .map(|page| Some((page, request)))
        },
    );
    let title = move || {
        let r = request.get();
        match (r.q, r.upload.is_some()) {
            (Some(q), true) => format!("{q} + your image"),
            (Some(q), false) => q,
            (None, true) => "Like your image".to_owned(),
            (None, false) => "Browse".to_owned(),
        }
    };
    view! {
        <Title text=title/>
        {move || {
            let r = request.get();
            view! { <SearchBox value=r.q.clone().unwrap_or_default() filters=r.filters.clone() upload=r.upload.clone()/> }
        }}
        {move || request.get().upload.map(|key| view! {
            <div class="flex items-center gap-4 pb-4">
                <img id="upload-source" src=format!("/upload/{key}") alt="your image" class="h-24 rounded-md"/>
                <h1 class="text-xl font-medium">"Looks like your image"</h1>
            </div>
        })}
        <Suspense fallback=|| view! { <p class="text-stone-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(Some((page, request))) => {
                        let more = page.next_offset.map(|n| next_href(&request, n));
                        view! { <ResultGrid first=page request more/> }.into_any()
                    }
                    Ok(None) => view! {
                        <p class="text-stone-600 dark:text-stone-400">"Type what you are looking for, or paste or drop an image."</p>
                    }.into_any(),
                    Err(err) => view! {
                        <p id="search-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The no-JavaScript link to the page at `offset`.
fn next_href(r: &SearchRequest, offset: usize) -> String {
    let offset = offset.to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("q", r.q.as_deref().unwrap_or_default()),
        ("upload", r.upload.as_deref().unwrap_or_default()),
    ];
    params.extend(r.filters.pairs());
    params.push(("offset", &offset));
    href("/search", &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SearchFilters;

    #[test]
    fn the_next_page_link_keeps_every_refinement() {
        let r = SearchRequest {
            q: Some("red circle".into()),
            upload: None,
            similar_to: None,
            filters: SearchFilters {
                format: Some("png".into()),
                sort: Some(crate::types::Sort::Newest),
                ..SearchFilters::default()
            },
            offset: 0,
            limit: PAGE_SIZE,
        };
        assert_eq!(
            next_href(&r, 60),
            "/search?q=red+circle&format=png&sort=newest&offset=60"
        );
    }
}
