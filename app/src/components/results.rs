//! The search box and the results grid, shared by the search, similar and home pages.
//!
//! The grid is rendered on the server with its first page, so a shared link shows results
//! without JavaScript (a "More results" link pages on). Once hydrated it scrolls forever: an
//! `IntersectionObserver` on a sentinel below the grid fetches the next page before it is
//! reached, until the server says there is no more. Clicking an image opens the lightbox;
//! the arrow keys move through the grid, Enter opens, Escape closes.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast as _;

use crate::api::search_images;
use crate::components::lightbox::Lightbox;
use crate::types::{SearchFilters, SearchHit, SearchPage, SearchRequest, PAGE_SIZE};

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

/// Height of a grid row on a wide screen, in CSS pixels (phones use shorter rows: see
/// `style/tailwind.css`); widths follow each image's aspect ratio, known before
/// the thumbnail loads, so nothing shifts.
const ROW_HEIGHT: u32 = 180;

/// File formats offered in the filters.
const FORMATS: [&str; 7] = ["jpeg", "png", "webp", "gif", "heic", "tiff", "bmp"];

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
                            "Refine: dates, type, folder, order · " <span class="text-stone-500">"-word excludes a word"</span>
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
                                    <option value="newest" selected=selected(&f.sort, "newest")>"newest first"</option>
                                    <option value="oldest" selected=selected(&f.sort, "oldest")>"oldest first"</option>
                                </select>
                            </label>
                        </div>
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

/// Width of a cell in CSS pixels at [`ROW_HEIGHT`].
fn cell_width(hit: &SearchHit) -> u64 {
    let (w, h) = (hit.width.max(1), hit.height.max(1));
    (u64::from(w) * u64::from(ROW_HEIGHT) / u64::from(h)).clamp(60, 900)
}

/// The results as a justified grid that loads more as it is scrolled. `request` is the search
/// that produced `first` (its next page is `request` at `first.next_offset`); `more` is the
/// no-JavaScript link to the next page.
#[component]
pub fn ResultGrid(
    first: SearchPage,
    request: SearchRequest,
    #[prop(default = None)] more: Option<String>,
) -> impl IntoView {
    if first.hits.is_empty() {
        let text = if first.browsing && request.filters.is_empty() {
            "Nothing is indexed here yet."
        } else if first.browsing {
            "No image matches these refinements."
        } else {
            "No relevant images. Try other words, or fewer of them."
        };
        return view! { <p id="no-results" class="py-8 text-stone-600 dark:text-stone-400">{text}</p> }
            .into_any();
    }
    let browsing = first.browsing;
    let everything = browsing && request.filters.is_empty();
    let hits = RwSignal::new(first.hits);
    let next = RwSignal::new(first.next_offset);
    let loading = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let hydrated = RwSignal::new(false);
    let open = RwSignal::new(None::<i64>);
    let request = StoredValue::new(request);
    let sentinel = NodeRef::<leptos::html::Div>::new();
    // Browser-only values live in a SendWrapper: the server renders on many threads.
    let observer = StoredValue::new(None::<SendWrapper<Observer>>);

    // Re-observing makes the observer report the sentinel's current state once more: after a
    // page lands on a tall screen the sentinel may still be in view, and the next page is due.
    let rearm = move || {
        observer.with_value(|o| {
            if let (Some(o), Some(el)) = (o, sentinel.get_untracked()) {
                o.observer.unobserve(&el);
                o.observer.observe(&el);
            }
        });
    };
    let load_more = move || {
        if loading.get_untracked() {
            return;
        }
        let Some(offset) = next.get_untracked() else {
            return;
        };
        loading.set(true);
        let mut req = request.get_value();
        req.offset = offset;
        req.limit = PAGE_SIZE;
        leptos::task::spawn_local(async move {
            match search_images(req).await {
                Ok(page) => {
                    hits.update(|h| {
                        let seen: std::collections::HashSet<i64> = h.iter().map(|x| x.id).collect();
                        h.extend(page.hits.into_iter().filter(|x| !seen.contains(&x.id)));
                    });
                    next.set(page.next_offset);
                    failed.set(None);
                    loading.set(false);
                    rearm();
                }
                Err(e) => {
                    failed.set(Some(e.to_string()));
                    loading.set(false);
                }
            }
        });
    };
    Effect::new(move |_| {
        hydrated.set(true);
        let Some(el) = sentinel.get() else {
            return;
        };
        if let Some(o) = Observer::new(load_more) {
            o.observer.observe(&el);
            observer.set_value(Some(SendWrapper::new(o)));
        }
    });
    on_cleanup(move || {
        observer.update_value(|o| {
            if let Some(o) = o.take() {
                o.observer.disconnect();
            }
        });
    });
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if open.get_untracked().is_none() {
            grid_keys(&ev);
        }
    });
    on_cleanup(move || keys.remove());

    let cell = move |hit: SearchHit| {
        let width = cell_width(&hit);
        let ratio = width as f64 / f64::from(ROW_HEIGHT);
        let style = format!("flex-grow:{width};--ratio:{ratio:.3}");
        let mut title = hit.path.clone();
        if let Some(t) = &hit.taken_at {
            title = format!("{title} · {t}");
        }
        if !browsing {
            title = format!("{title} · {:.2}", hit.score);
        }
        let id = hit.id;
        let alt = title.clone();
        let click = move |ev: leptos::ev::MouseEvent| {
            let plain = ev.button() == 0
                && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key());
            if plain {
                ev.prevent_default();
                open.set(Some(id));
            }
        };
        view! {
            <li class="result relative max-w-full overflow-hidden rounded-md bg-stone-200 dark:bg-stone-800" style=style data-id=id.to_string()>
                <a href=format!("/similar/{id}") title=title on:click=click class="block focus:outline-none focus-visible:ring-4 focus-visible:ring-amber-500">
                    <img
                        src=format!("/thumb/{id}")
                        width=width.to_string()
                        height=ROW_HEIGHT.to_string()
                        loading="lazy"
                        alt=alt
                        class="block w-full object-cover"
                    />
                </a>
            </li>
        }
    };
    view! {
        <ul id="results" class="flex flex-wrap gap-2" data-count=move || hits.with(Vec::len).to_string()>
            <For each=move || hits.get() key=|h| h.id children=cell/>
            // Takes the spare width of the last row, so its images keep their proportions.
            <li style="flex-grow:1000000" aria-hidden="true"></li>
        </ul>
        <div node_ref=sentinel id="sentinel" aria-hidden="true"></div>
        <div class="py-6 text-center text-sm text-stone-600 dark:text-stone-400" aria-live="polite">
            {move || {
                if let Some(err) = failed.get() {
                    view! {
                        <p id="load-error" class="text-red-700 dark:text-red-400">
                            {format!("More results could not load: {err} ")}
                            <button class="underline" on:click=move |_| load_more()>"Try again"</button>
                        </p>
                    }.into_any()
                } else if loading.get() {
                    view! { <p id="loading">"Loading more…"</p> }.into_any()
                } else if next.get().is_none() {
                    let n = hits.with(Vec::len);
                    let text = if everything {
                        format!("That is the whole library: {n} images.")
                    } else if browsing {
                        format!("That is all of them: {n} images.")
                    } else {
                        format!("That is everything relevant: {n} images.")
                    };
                    view! { <p id="end-of-results">{text}</p> }.into_any()
                } else if !hydrated.get() {
                    more.clone().map(|href| view! {
                        <a id="more" href=href class="rounded-lg border border-stone-300 px-4 py-2 hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800">"More results"</a>
                    }).into_any()
                } else {
                    ().into_any()
                }
            }}
        </div>
        <Lightbox hits open browsing/>
    }
    .into_any()
}

/// An `IntersectionObserver` and the callback it holds.
struct Observer {
    observer: web_sys::IntersectionObserver,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut(js_sys::Array)>,
}

impl Observer {
    /// Calls `near` whenever the observed element comes within 1,000 px of the viewport.
    fn new(near: impl Fn() + 'static) -> Option<Self> {
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut(js_sys::Array)>::new(
            move |entries: js_sys::Array| {
                let visible = entries.iter().any(|e| {
                    e.dyn_into::<web_sys::IntersectionObserverEntry>()
                        .is_ok_and(|e| e.is_intersecting())
                });
                if visible {
                    near();
                }
            },
        );
        let init = web_sys::IntersectionObserverInit::new();
        init.set_root_margin("1000px 0px");
        let observer = web_sys::IntersectionObserver::new_with_options(
            callback.as_ref().unchecked_ref(),
            &init,
        )
        .ok()?;
        Some(Observer {
            observer,
            _callback: callback,
        })
    }
}

/// Arrow keys move the focus through the grid (up and down to the nearest image of the row
/// above or below); Enter on a focused image opens it, as a click would.
fn grid_keys(ev: &web_sys::KeyboardEvent) {
    let key = ev.key();
    if !matches!(
        key.as_str(),
        "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown"
    ) || ev.ctrl_key()
        || ev.meta_key()
        || ev.alt_key()
        || typing(ev)
    {
        return;
    }
    let Ok(list) = document().query_selector_all("#results li.result > a") else {
        return;
    };
    let links: Vec<web_sys::HtmlElement> = (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect();
    if links.is_empty() {
        return;
    }
    let active = document().active_element();
    let current = links.iter().position(|l| {
        active
            .as_ref()
            .is_some_and(|a| a == l.unchecked_ref::<web_sys::Element>())
    });
    let target = match current {
        None => Some(0),
        Some(i) => {
            let rects: Vec<web_sys::DomRect> =
                links.iter().map(|l| l.get_bounding_client_rect()).collect();
            step(&rects, i, key.as_str())
        }
    };
    if let Some(t) = target {
        ev.prevent_default();
        let _ = links[t].focus();
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Nearest);
        links[t].scroll_into_view_with_scroll_into_view_options(&options);
    }
}

/// The cell an arrow key moves to from cell `i`.
fn step(rects: &[web_sys::DomRect], i: usize, key: &str) -> Option<usize> {
    let centre = |r: &web_sys::DomRect| (r.left() + r.right()) / 2.0;
    let here = &rects[i];
    match key {
        "ArrowLeft" => i.checked_sub(1),
        "ArrowRight" => (i + 1 < rects.len()).then_some(i + 1),
        "ArrowDown" | "ArrowUp" => {
            let down = key == "ArrowDown";
            // The nearest row beyond this one, then the cell in it closest horizontally.
            let row = rects
                .iter()
                .map(|r| r.top())
                .filter(|&t| {
                    if down {
                        t > here.bottom() - 1.0
                    } else {
                        t < here.top() - 1.0
                    }
                })
                .reduce(|a, b| if down { a.min(b) } else { a.max(b) })?;
            rects
                .iter()
                .enumerate()
                .filter(|(_, r)| (r.top() - row).abs() < 1.0)
                .min_by(|a, b| {
                    (centre(a.1) - centre(here))
                        .abs()
                        .total_cmp(&(centre(b.1) - centre(here)).abs())
                })
                .map(|(j, _)| j)
        }
        _ => None,
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
