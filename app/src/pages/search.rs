//! `/search?q=…`: the first page is rendered on the server, so a shared link shows results
//! before (and without) the WebAssembly.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::search_images;
use crate::components::results::{offset_param, ResultGrid, SearchBox};
use crate::types::{SearchRequest, PAGE_SIZE};

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The search results page.
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let offset = move || offset_param(query);
    let results = Resource::new_blocking(
        move || (q(), offset()),
        |(q, offset)| async move {
            if q.trim().is_empty() {
                return Ok(None);
            }
            search_images(SearchRequest {
                q: Some(q),
                similar_to: None,
                offset,
                limit: PAGE_SIZE,
            })
            .await
            .map(Some)
        },
    );
    view! {
        <Title text=move || q()/>
        <SearchBox value=q()/>
        <Suspense fallback=|| view! { <p class="text-stone-500">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(Some(page)) => {
                        let more = page
                            .next_offset
                            .map(|n| format!("/search?q={}&offset={n}", encode(&q())));
                        view! { <ResultGrid page more/> }.into_any()
                    }
                    Ok(None) => view! {
                        <p class="text-stone-600 dark:text-stone-400">"Type what you are looking for."</p>
                    }.into_any(),
                    Err(err) => view! {
                        <p id="search-error" class="text-red-700 dark:text-red-400">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("red circle"), "red+circle");
        assert_eq!(encode("dog -cat & co"), "dog+-cat+%26+co");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
