//! The search box and the URLs of results pages: a plain GET form with the refinements folded
//! under it (it works before and without the WebAssembly), and search by image beside it.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::types::{SearchFilters, Sort};

/// The `offset` query parameter of a results page (0 when absent or malformed).
pub fn offset_param(query: Memo<leptos_router::params::ParamsMap>) -> usize {
    query
        .read()
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0)
}

/// The refinements in a results page's URL.
pub fn filters_param(query: Memo<leptos_router::params::ParamsMap>) -> SearchFilters {
    let q = query.read();
    SearchFilters::from_lookup(|k| q.get(k))
}

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

/// A URL `path?k=v&…` from its set parameters, values encoded.
pub fn href(path: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// File formats offered in the filters.
const FORMATS: [&str; 11] = [
    "jpeg", "png", "webp", "gif", "heic", "avif", "tiff", "bmp", "mpo", "pnm", "raw",
];

const INPUT: &str =
    "rounded-md border border-stone-300 bg-white px-2 py-1 dark:border-stone-700 dark:bg-stone-900";

/// The search box: a plain GET form to `/search` (works before and without the WebAssembly),
/// with the refinements folded under it, and a search-by-image button beside it.
#[component]
pub fn SearchBox(
    #[prop(into)] value: String,
    #[prop(optional)] filters: SearchFilters,
    #[prop(default = None)] upload: Option<String>,
) -> impl IntoView {
    let open = !filters.is_empty();
    let f = filters;
    let selected = |current: &Option<String>, v: &str| current.as_deref() == Some(v);
    let sorted = |v: Sort| f.sort == Some(v);
    view! {
        <div class="py-4">
            <div class="flex flex-wrap items-start gap-2">
                <form id="search-form" method="get" action="/search" role="search" class="flex min-w-0 flex-1 flex-col gap-2">
                    <div class="flex gap-2">
                        <input
                            id="q"
                            type="search"
                            name="q"
                            value=value
                            maxlength="1000"
                            autocomplete="off"
                            placeholder="Search by meaning: a red circle, a meme that says hello, dog -cat"
                            aria-label="Search"
                            aria-keyshortcuts="/"
                            class="min-w-0 flex-1 rounded-lg border border-stone-300 bg-white px-4 py-2 text-lg shadow-sm focus:border-amber-500 focus:outline-none dark:border-stone-700 dark:bg-stone-900"
                        />
                        {upload.map(|key| view! { <input type="hidden" name="upload" value=key/> })}
                        <button
                            type="submit"
                            class="rounded-lg bg-amber-600 px-5 py-2 font-medium text-white hover:bg-amber-700"
                        >
                            "Search"
                        </button>
                    </div>
                    <details id="refine" class="text-sm" open=open>
                        <summary class="cursor-pointer select-none text-stone-600 dark:text-stone-400">
                            "Refine: dates, type, folder, order · " <span class="text-stone-500">"\"quoted words\" must be in the picture, -word leaves out"</span>
                        </summary>
                        <div class="mt-2 flex flex-wrap items-end gap-3">
                            <label class="flex flex-col">"From"
                                <input id="from" type="date" name="from" value=f.from.clone().unwrap_or_default() class=INPUT/>
                            </label>
                            <label class="flex flex-col">"To"
                                <input id="to" type="date" name="to" value=f.to.clone().unwrap_or_default() class=INPUT/>
                            </label>
                            <label class="flex flex-col">"Type"
                                <select id="format" name="format" class=INPUT>
                                    <option value="">"any"</option>
                                    {FORMATS.iter().map(|&v| view! {
                                        <option value=v selected=selected(&f.format, v)>{v}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label class="flex min-w-48 flex-1 flex-col">"Folder"
                                <input id="folder" type="text" name="folder" value=f.folder.clone().unwrap_or_default() placeholder="/photos/2023" class=INPUT/>
                            </label>
                            <label class="flex flex-col">"Order"
                                <select id="sort" name="sort" class=INPUT>
                                    <option value="relevance">"most relevant"</option>
                                    <option value="newest" selected=sorted(Sort::Newest)>"newest first"</option>
                                    <option value="oldest" selected=sorted(Sort::Oldest)>"oldest first"</option>
                                </select>
                            </label>
                        </div>
                        <p id="query-help" class="mt-2 text-stone-600 dark:text-stone-400">
                            "Or type them in the box: "
                            <code>"\"monday again\""</code>" in the picture, "
                            <code>"-cat"</code>" left out, "
                            <code>"folder:memes"</code>", "<code>"camera:fuji"</code>", "
                            <code>"after:2023"</code>", "<code>"before:2024-06"</code>", "
                            <code>"type:png"</code>"; "
                            <code>"text:"</code>" for the words only, "
                            <code>"like:"</code>" for the look only."
                        </p>
                    </details>
                </form>
                <ImageSearchButton/>
            </div>
        </div>
    }
}

/// "Search by image": a file picker in a multipart form to `/search/upload`, submitted as soon
/// as a file is chosen (or with its own button when JavaScript is off).
#[component]
fn ImageSearchButton() -> impl IntoView {
    let submit = move |ev: leptos::ev::Event| {
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.form());
        if let Some(form) = form {
            let _ = form.request_submit();
        }
    };
    view! {
        <form id="upload-form" method="post" action="/search/upload" enctype="multipart/form-data" class="flex items-center gap-2">
            <label
                class="cursor-pointer rounded-lg border border-stone-300 px-4 py-2 text-lg hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800"
                title="Search by image: choose a file, or paste or drop an image anywhere on the page"
            >
                "By image"
                <input id="image-file" type="file" name="image" accept="image/*" class="sr-only" on:change=submit/>
            </label>
            <noscript>
                <button type="submit" class="rounded-lg border border-stone-300 px-3 py-2">"Upload"</button>
            </noscript>
        </form>
    }
}

/// Whether a key event is typing into a text field (where keys keep their usual meaning).
pub fn typing(ev: &web_sys::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.has_attribute("contenteditable")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("red circle"), "red+circle");
        assert_eq!(encode("dog -cat & co"), "dog+-cat+%26+co");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn links_carry_only_the_set_parameters() {
        assert_eq!(
            href("/search", &[("q", "a b"), ("from", "")]),
            "/search?q=a+b"
        );
        assert_eq!(href("/", &[("q", "")]), "/");
        assert_eq!(
            href(
                "/search",
                &[("q", "x"), ("offset", "60"), ("sort", "newest")]
            ),
            "/search?q=x&offset=60&sort=newest"
        );
    }
}
