//! The results grid, shared by the search, similar and home pages.
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
use crate::components::results::typing;
use crate::components::why;
use crate::types::{SearchHit, SearchPage, SearchRequest, PAGE_SIZE};

/// Height of a grid row on a wide screen, in CSS pixels (phones use shorter rows: see
/// `style/tailwind.css`); widths follow each image's aspect ratio, known before
/// the thumbnail loads, so nothing shifts.
const ROW_HEIGHT: u32 = 180;

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
    let kind = if !first.browsing {
        Listing::Relevant
    } else if request.filters.is_empty() {
        Listing::Everything
    } else {
        Listing::Refined
    };
    if first.hits.is_empty() {
        return view! { <p id="no-results" class="py-8 text-stone-600 dark:text-stone-400">{kind.nothing()}</p> }
            .into_any();
    }
    let browsing = first.browsing;
    let pages = Pages::new(first);
    let hydrated = RwSignal::new(false);
    let open = RwSignal::new(None::<i64>);
    let request = StoredValue::new(request);
    let sentinel = Sentinel::new();
    let load_more = move || pages.load_more(request, move || sentinel.rearm());
    sentinel.watch(load_more, hydrated);
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if open.get_untracked().is_none() {
            grid_keys(&ev);
        }
    });
    on_cleanup(move || keys.remove());
    let hits = pages.hits;
    view! {
        <ul id="results" class="flex flex-wrap gap-2" data-count=move || hits.with(Vec::len).to_string()>
            <For each=move || hits.get() key=|h| h.id children=move |hit| result_cell(hit, browsing, open)/>
            // Takes the spare width of the last row, so its images keep their proportions.
            <li style="flex-grow:1000000" aria-hidden="true"></li>
        </ul>
        <div node_ref=sentinel.node id="sentinel" aria-hidden="true"></div>
        <div class="py-6 text-center text-sm text-stone-600 dark:text-stone-400" aria-live="polite">
            {move || grid_footer(pages, kind, hydrated.get(), more.clone(), load_more)}
        </div>
        <Lightbox hits open browsing/>
    }
    .into_any()
}

/// What a grid lists, for the words at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// The results of a query.
    Relevant,
    /// The whole library.
    Everything,
    /// The library under refinements.
    Refined,
}

impl Listing {
    /// The words for an empty grid.
    fn nothing(self) -> &'static str {
        match self {
            Listing::Relevant => "No relevant images. Try other words, or fewer of them.",
            Listing::Everything => "Nothing is indexed here yet.",
            Listing::Refined => "No image matches these refinements.",
        }
    }

    /// The words once everything is shown.
    fn end(self, n: usize) -> String {
        let n = crate::format::count(n as u64, "image");
        match self {
            Listing::Relevant => format!("That is everything relevant: {n}."),
            Listing::Everything => format!("That is the whole library: {n}."),
            Listing::Refined => format!("That is all of them: {n}."),
        }
    }
}

/// The pages a grid has loaded, and the one it is loading.
#[derive(Debug, Clone, Copy)]
struct Pages {
    hits: RwSignal<Vec<SearchHit>>,
    next: RwSignal<Option<usize>>,
    loading: RwSignal<bool>,
    failed: RwSignal<Option<String>>,
}

impl Pages {
    fn new(first: SearchPage) -> Self {
        Pages {
            hits: RwSignal::new(first.hits),
            next: RwSignal::new(first.next_offset),
            loading: RwSignal::new(false),
            failed: RwSignal::new(None),
        }
    }

    /// Fetches the next page of `request` (nothing while one is loading, or at the end) and
    /// calls `landed` once it is in.
    fn load_more(self, request: StoredValue<SearchRequest>, landed: impl Fn() + 'static) {
        if self.loading.get_untracked() {
            return;
        }
        let Some(offset) = self.next.get_untracked() else {
            return;
        };
        self.loading.set(true);
        let mut req = request.get_value();
        req.offset = offset;
        req.limit = PAGE_SIZE;
        leptos::task::spawn_local(async move {
            match search_images(req).await {
                Ok(page) => {
                    self.hits.update(|h| {
                        let seen: std::collections::HashSet<i64> = h.iter().map(|x| x.id).collect();
                        h.extend(page.hits.into_iter().filter(|x| !seen.contains(&x.id)));
                    });
                    self.next.set(page.next_offset);
                    self.failed.set(None);
                    self.loading.set(false);
                    landed();
                }
                Err(e) => {
                    self.failed.set(Some(e.to_string()));
                    self.loading.set(false);
                }
            }
        });
    }
}

/// One picture of the grid: a link to its look-alikes that opens the lightbox on a plain click.
fn result_cell(hit: SearchHit, browsing: bool, open: RwSignal<Option<i64>>) -> impl IntoView {
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
    let why_text = why::plain_line(&hit);
    if !why_text.is_empty() {
        title = format!("{title} · {why_text}");
    }
    let why_line = why::card_line(&hit.why).map(|spans| {
        view! {
            <p class="why pointer-events-none absolute inset-x-0 bottom-0 truncate bg-black/70 px-1.5 py-0.5 text-xs text-stone-100">
                {why::marked(spans)}
            </p>
        }
    });
    let id = hit.id;
    let alt = title.clone();
    let click = move |ev: leptos::ev::MouseEvent| {
        let plain =
            ev.button() == 0 && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key());
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
            {why_line}
        </li>
    }
}

/// Under the grid: a failed page with a retry, "Loading more…", the end, or (before the page
/// is hydrated, or without JavaScript) a link to the next page.
fn grid_footer(
    pages: Pages,
    kind: Listing,
    hydrated: bool,
    more: Option<String>,
    load_more: impl Fn() + Copy + 'static,
) -> AnyView {
    if let Some(err) = pages.failed.get() {
        view! {
            <p id="load-error" class="text-red-700 dark:text-red-400">
                {format!("More results could not load: {err} ")}
                <button class="underline" on:click=move |_| load_more()>"Try again"</button>
            </p>
        }
        .into_any()
    } else if pages.loading.get() {
        view! { <p id="loading">"Loading more…"</p> }.into_any()
    } else if pages.next.get().is_none() {
        let text = kind.end(pages.hits.with(Vec::len));
        view! { <p id="end-of-results">{text}</p> }.into_any()
    } else if !hydrated {
        more.map(|href| view! {
            <a id="more" href=href class="rounded-lg border border-stone-300 px-4 py-2 hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800">"More results"</a>
        })
        .into_any()
    } else {
        ().into_any()
    }
}

/// The element under the grid whose approach loads the next page.
#[derive(Clone, Copy)]
struct Sentinel {
    node: NodeRef<leptos::html::Div>,
    // Browser-only values live in a SendWrapper: the server renders on many threads.
    observer: StoredValue<Option<SendWrapper<Observer>>>,
}

impl Sentinel {
    fn new() -> Self {
        Sentinel {
            node: NodeRef::new(),
            observer: StoredValue::new(None),
        }
    }

    /// Once hydrated (`hydrated` turns true), calls `near` whenever the sentinel comes within
    /// 1,000 px of the viewport; stops with the grid.
    fn watch(self, near: impl Fn() + 'static, hydrated: RwSignal<bool>) {
        let near = std::rc::Rc::new(near);
        Effect::new(move |_| {
            hydrated.set(true);
            let Some(el) = self.node.get() else {
                return;
            };
            let near = near.clone();
            if let Some(o) = Observer::new(move || near()) {
                o.observer.observe(&el);
                self.observer.set_value(Some(SendWrapper::new(o)));
            }
        });
        on_cleanup(move || {
            self.observer.update_value(|o| {
                if let Some(o) = o.take() {
                    o.observer.disconnect();
                }
            });
        });
    }

    /// Makes the observer report the sentinel's state once more: after a page lands on a tall
    /// screen the sentinel may still be in view, and the next page is due.
    fn rearm(self) {
        self.observer.with_value(|o| {
            if let (Some(o), Some(el)) = (o, self.node.get_untracked()) {
                o.observer.unobserve(&el);
                o.observer.observe(&el);
            }
        });
    }
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
