//! The lightbox: one image large, with what the catalog knows of it and what can be done with
//! it (find similar, open the original, copy a link to share). Left and right step through
//! the loaded results; Escape closes and gives the focus back to the image in the grid.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::components::why;
use crate::types::{CatalogFacts, SearchHit};

/// The overlay for the image whose id is in `open` (nothing when `None`).
#[component]
pub fn Lightbox(
    hits: RwSignal<Vec<SearchHit>>,
    open: RwSignal<Option<i64>>,
    browsing: bool,
) -> impl IntoView {
    let shared = RwSignal::new(None::<String>);
    let position = move || {
        let id = open.get()?;
        hits.with(|h| h.iter().position(|x| x.id == id))
    };
    let go = move |delta: isize| {
        let Some(id) = open.get_untracked() else {
            return;
        };
        hits.with_untracked(|h| {
            let i = h.iter().position(|x| x.id == id)?;
            let j = i.checked_add_signed(delta)?;
            h.get(j).map(|x| x.id)
        })
        .into_iter()
        .for_each(|next| {
            shared.set(None);
            open.set(Some(next));
        });
    };
    let close = move || {
        if let Some(id) = open.get_untracked() {
            open.set(None);
            shared.set(None);
            focus_in_grid(id);
        }
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if open.get_untracked().is_none() {
            return;
        }
        match ev.key().as_str() {
            "Escape" => close(),
            "ArrowLeft" => go(-1),
            "ArrowRight" => go(1),
            _ => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || keys.remove());
    // The dialog takes the focus when it opens, so keys and screen readers land in it.
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    move || {
        let i = position()?;
        let (hit, count) = hits.with(|h| (h[i].clone(), h.len()));
        let id = hit.id;
        let place = Place { i, count };
        Some(view! {
            <div
                id="lightbox"
                role="dialog"
                aria-modal="true"
                aria-label="Image details"
                tabindex="-1"
                node_ref=dialog
                data-id=id.to_string()
                class="fixed inset-0 z-50 flex flex-col bg-black/90 text-stone-100 outline-none md:flex-row"
            >
                <div class="relative flex min-h-0 flex-1 items-center justify-center p-2 md:p-6" on:click=move |_| close()>
                    <img
                        id="lightbox-image"
                        src=format!("/preview/{id}")
                        alt=hit.path.clone()
                        width=hit.width.to_string()
                        height=hit.height.to_string()
                        class="h-auto max-h-full w-auto max-w-full object-contain"
                        on:click=|ev| ev.stop_propagation()
                    />
                </div>
                {panel(&hit, place, browsing, shared, go, close)}
            </div>
        })
    }
}

/// Where the open image is among the loaded ones.
#[derive(Debug, Clone, Copy)]
struct Place {
    i: usize,
    count: usize,
}

/// The panel beside the image: where it is, the buttons, its facts, its actions and the link
/// to share once made.
fn panel(
    hit: &SearchHit,
    place: Place,
    browsing: bool,
    shared: RwSignal<Option<String>>,
    go: impl Fn(isize) + Copy + 'static,
    close: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let Place { i, count } = place;
    let id = hit.id;
    let facts = facts(hit, browsing);
    let reasons = why::rows(&hit.why);
    view! {
        <aside class="max-h-[45vh] w-full shrink-0 space-y-4 overflow-y-auto bg-stone-900 p-4 text-sm md:max-h-none md:w-80">
            <div class="flex items-center justify-between">
                <span class="text-stone-400">{format!("{} of {count}", i + 1)}</span>
                <div class="flex gap-1">
                    <button id="lightbox-prev" type="button" aria-label="Previous image" disabled=i == 0 class="rounded px-2 py-1 hover:bg-stone-700 disabled:opacity-30" on:click=move |_| go(-1)>"←"</button>
                    <button id="lightbox-next" type="button" aria-label="Next image" disabled=i + 1 == count class="rounded px-2 py-1 hover:bg-stone-700 disabled:opacity-30" on:click=move |_| go(1)>"→"</button>
                    <button id="lightbox-close" type="button" aria-label="Close" class="rounded px-2 py-1 hover:bg-stone-700" on:click=move |_| close()>"✕"</button>
                </div>
            </div>
            {hit.caption.clone().map(|c| view! {
                <p id="lightbox-caption" class="text-base text-stone-100">{c}</p>
            })}
            {(!hit.tags.is_empty()).then(|| view! {
                <ul id="lightbox-tags" aria-label="Tags" class="flex flex-wrap gap-1">
                    {hit.tags.iter().map(|t| view! {
                        <li><a class="lightbox-tag rounded-full bg-stone-700 px-2 py-0.5 text-xs hover:bg-amber-700" href=tag_href(t) on:click=move |_| close()>{t.clone()}</a></li>
                    }).collect_view()}
                </ul>
            })}
            {hit.catalog.clone().map(|c| catalog_view(c, close, true))}
            {hit.described.iter().cloned().map(|c| catalog_view(c, close, false)).collect_view()}
            <dl id="lightbox-facts" class="grid grid-cols-[6rem_1fr] gap-x-2 gap-y-1">
                {facts.into_iter().map(|(k, v)| view! {
                    <dt class="text-stone-400">{k}</dt>
                    <dd class="break-all">{v}</dd>
                }).collect_view()}
            </dl>
            {(!reasons.is_empty()).then(|| view! {
                <section id="lightbox-why" aria-label="Why it matched">
                    <h2 class="mb-1 text-xs uppercase tracking-wide text-stone-400">"Why it matched"</h2>
                    <dl class="grid grid-cols-[6rem_1fr] gap-x-2 gap-y-1">
                        {reasons.into_iter().map(|(id, label, spans)| view! {
                            <dt class="text-stone-400">{label}</dt>
                            <dd id=id class="break-words">{why::marked(spans)}</dd>
                        }).collect_view()}
                    </dl>
                </section>
            })}
            <div class="flex flex-wrap gap-2">
                <a id="lightbox-similar" href=format!("/similar/{id}") class="rounded-md bg-amber-600 px-3 py-1.5 font-medium text-white hover:bg-amber-700">"Find similar"</a>
                <a id="lightbox-original" href=format!("/image/{id}") target="_blank" rel="noopener" class="rounded-md border border-stone-600 px-3 py-1.5 hover:bg-stone-700">"Open original"</a>
                <button id="lightbox-copy" type="button" class="rounded-md border border-stone-600 px-3 py-1.5 hover:bg-stone-700" on:click=move |_| share_link(id, shared)>"Copy link"</button>
            </div>
            {move || shared.get().map(|url| view! {
                <label class="block text-stone-400">"Link to share (copied if the browser allowed it)"
                    <input id="share-link" type="text" readonly value=url class="mt-1 w-full rounded bg-stone-800 px-2 py-1 font-mono text-xs text-stone-100" on:focus=|ev| {
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    }/>
                </label>
            })}
        </aside>
    }
}

/// The search for one tag: `tag:NAME`, quoted when it has spaces.
pub fn tag_href(tag: &str) -> String {
    operator_href("tag", tag)
}

/// The search for one operator's value (`keyword:Tokyo`), quoted when it has spaces or quotes
/// (whose quotes are dropped: the query language has no escape for them).
pub fn operator_href(op: &str, value: &str) -> String {
    let query = if value.contains(char::is_whitespace) || value.contains('"') {
        format!("{op}:\"{}\"", value.replace('"', ""))
    } else {
        format!("{op}:{value}")
    };
    crate::components::results::href("/search", &[("q", &query)])
}

/// Stars as the catalog gives them: `★★★☆☆`.
fn stars(rating: u8) -> String {
    let r = usize::from(rating.min(5));
    format!("{}{}", "★".repeat(r), "☆".repeat(5 - r))
}

/// What an imported catalog (`imported`) or one of the picture's files says of it: title,
/// caption, rating, flag, label, and its keywords and collections as searches.
fn catalog_view(
    c: CatalogFacts,
    close: impl Fn() + Copy + 'static,
    imported: bool,
) -> impl IntoView {
    // The imported catalog's section and its parts have ids; the files' own (there may be
    // several) are found by their class.
    let id = |name: &'static str| imported.then_some(name);
    let section_class = if imported {
        "space-y-1"
    } else {
        "lightbox-described space-y-1"
    };
    let mut marks = Vec::new();
    if let Some(r) = c.rating {
        marks.push(stars(r));
    }
    match c.flag {
        1 => marks.push("Pick".to_owned()),
        -1 => marks.push("Rejected".to_owned()),
        _ => {}
    }
    if let Some(label) = &c.label {
        marks.push(format!("{label} label"));
    }
    let link = "rounded-full bg-stone-700 px-2 py-0.5 text-xs hover:bg-amber-700";
    view! {
        <section id=id("lightbox-catalog") aria-label=format!("From {}", c.catalog) class=section_class>
            <h2 class="text-xs uppercase tracking-wide text-stone-400">{format!("From {}", c.catalog)}</h2>
            {c.stands_in_for.clone().map(|o| view! {
                <p class="lightbox-stand-in text-amber-300">{format!("The catalog's preview, standing in for {o} (offline or lost)")}</p>
            })}
            {c.title.clone().map(|t| view! { <p id=id("lightbox-title") class="font-medium text-stone-100">{t}</p> })}
            {c.caption.clone().map(|t| view! { <p id=id("lightbox-catalog-caption")>{t}</p> })}
            {(!marks.is_empty()).then(|| view! { <p id=id("lightbox-rating") aria-label=format!("Rating: {}", c.rating.unwrap_or(0))>{marks.join(" · ")}</p> })}
            {(!c.keywords.is_empty()).then(|| view! {
                <ul id=id("lightbox-keywords") aria-label="Keywords" class="flex flex-wrap gap-1">
                    {c.keywords.iter().map(|k| {
                        let name = k.rsplit(" > ").next().unwrap_or(k).to_owned();
                        view! { <li><a class=format!("lightbox-keyword {link}") title=k.clone() href=operator_href("keyword", &name) on:click=move |_| close()>{name.clone()}</a></li> }
                    }).collect_view()}
                </ul>
            })}
            {(!c.collections.is_empty()).then(|| view! {
                <ul id=id("lightbox-collections") aria-label="Collections" class="flex flex-wrap gap-1">
                    {c.collections.iter().map(|k| view! {
                        <li><a class=format!("lightbox-collection {link}") href=operator_href("collection", k) on:click=move |_| close()>{k.clone()}</a></li>
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// Gives the focus back to the image's cell in the grid, where the user was.
fn focus_in_grid(id: i64) {
    let selector = format!("#results li[data-id='{id}'] > a");
    if let Ok(Some(el)) = document().query_selector(&selector) {
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            let _ = el.focus();
        }
    }
}

/// Shows the image's `/similar/<id>` link and copies it to the clipboard where the browser
/// allows it (an insecure origin or a refused permission leaves it shown to copy by hand).
fn share_link(id: i64, shared: RwSignal<Option<String>>) {
    let origin = window().location().origin().unwrap_or_default();
    let url = format!("{origin}/similar/{id}");
    shared.set(Some(url.clone()));
    let clipboard = js_sys::Reflect::get(&window().navigator(), &"clipboard".into())
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null());
    if let Some(clipboard) = clipboard {
        let promise = clipboard
            .unchecked_into::<web_sys::Clipboard>()
            .write_text(&url);
        leptos::task::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}

/// The facts shown beside the image, in order.
fn facts(hit: &SearchHit, browsing: bool) -> Vec<(&'static str, String)> {
    let mut out = vec![("File", hit.path.clone())];
    if let Some(t) = &hit.taken_at {
        out.push(("Taken", t.replace('T', " ")));
    }
    if let Some(c) = &hit.camera {
        out.push(("Camera", c.clone()));
    }
    out.push((
        "Size",
        format!(
            "{} × {} px, {}",
            hit.width,
            hit.height,
            crate::format::human_bytes(hit.bytes)
        ),
    ));
    out.push(("Type", hit.format.clone()));
    if !browsing {
        out.push(("Match", format!("{:.3}", hit.score)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_leave_out_what_is_unknown() {
        let hit = SearchHit {
            id: 1,
            score: 0.61,
            width: 4000,
            height: 3000,
            format: "jpeg".into(),
            taken_at: Some("2021-05-01T10:00:00".into()),
            path: "/p/a.jpg".into(),
            bytes: 2_000_000,
            camera: None,
            why: crate::types::Why::default(),
            caption: None,
            tags: Vec::new(),
            catalog: None,
            described: Vec::new(),
        };
        let f = facts(&hit, false);
        let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["File", "Taken", "Size", "Type", "Match"]);
        assert_eq!(f[1].1, "2021-05-01 10:00:00");
        assert!(facts(&hit, true).iter().all(|(k, _)| *k != "Match"));
    }

    #[test]
    fn a_tag_links_to_its_search() {
        assert_eq!(tag_href("red"), "/search?q=tag%3Ared");
        assert_eq!(
            operator_href("collection", "Travel / Japan 2023"),
            "/search?q=collection%3A%22Travel+%2F+Japan+2023%22"
        );
        assert_eq!(
            operator_href("keyword", "say \"hi\""),
            "/search?q=keyword%3A%22say+hi%22"
        );
        assert_eq!(stars(3), "★★★☆☆");
        assert_eq!(
            tag_href("christmas tree"),
            "/search?q=tag%3A%22christmas+tree%22"
        );
    }
}
