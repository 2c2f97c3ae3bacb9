//! The search box and the results grid, shared by the search, similar and home pages.

use leptos::prelude::*;

use crate::types::SearchPage;

/// The `offset` query parameter of a results page (0 when absent or malformed).
pub fn offset_param(query: Memo<leptos_router::params::ParamsMap>) -> usize {
    query
        .read()
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0)
}

/// Height of a grid row in CSS pixels; widths follow each image's aspect ratio, known before
/// the thumbnail loads, so nothing shifts.
const ROW_HEIGHT: u32 = 180;

/// A plain GET form to `/search`: works before (and without) the WebAssembly.
#[component]
pub fn SearchBox(#[prop(into)] value: String) -> impl IntoView {
    view! {
        <form method="get" action="/search" role="search" class="flex gap-2 py-4">
            <input
                id="q"
                type="search"
                name="q"
                value=value
                maxlength="1000"
                autocomplete="off"
                placeholder="Search by meaning: a red circle, a meme that says hello, dog -cat"
                aria-label="Search"
                class="min-w-0 flex-1 rounded-lg border border-stone-300 bg-white px-4 py-2 text-lg shadow-sm focus:border-amber-500 focus:outline-none dark:border-stone-700 dark:bg-stone-900"
            />
            <button
                type="submit"
                class="rounded-lg bg-amber-600 px-5 py-2 font-medium text-white hover:bg-amber-700"
            >
                "Search"
            </button>
        </form>
    }
}

/// A page of results as a justified grid; each image links to its look-alikes.
#[component]
pub fn ResultGrid(page: SearchPage, #[prop(into)] more: Option<String>) -> impl IntoView {
    if page.hits.is_empty() {
        return view! {
            <p id="no-results" class="py-8 text-stone-600 dark:text-stone-400">
                "No relevant images. Try other words, or fewer of them."
            </p>
        }
        .into_any();
    }
    let cells = page
        .hits
        .into_iter()
        .map(|hit| {
            let (w, h) = (hit.width.max(1), hit.height.max(1));
            let width = (u64::from(w) * u64::from(ROW_HEIGHT) / u64::from(h)).clamp(60, 900);
            let style = format!("flex-grow:{width};width:{width}px");
            let title = match &hit.taken_at {
                Some(t) => format!("{} · {t} · {:.2}", hit.path, hit.score),
                None => format!("{} · {:.2}", hit.path, hit.score),
            };
            let alt = title.clone();
            view! {
                <li class="result relative overflow-hidden rounded-md bg-stone-200 dark:bg-stone-800" style=style data-id=hit.id.to_string()>
                    <a href=format!("/similar/{}", hit.id) title=title>
                        <img
                            src=format!("/thumb/{}", hit.id)
                            width=width.to_string()
                            height=ROW_HEIGHT.to_string()
                            loading="lazy"
                            alt=alt
                            class="block h-44 w-full object-cover"
                        />
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul id="results" class="flex flex-wrap gap-2">
            {cells}
            // Takes the spare width of the last row, so its images keep their proportions.
            <li style="flex-grow:1000000" aria-hidden="true"></li>
        </ul>
        {more.map(|href| view! {
            <p class="py-6 text-center">
                <a id="more" href=href class="rounded-lg border border-stone-300 px-4 py-2 hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800">"More results"</a>
            </p>
        })}
    }
    .into_any()
}
