//! The library's state, kept live by the server's status event stream (`/api/status/events`):
//! counts, the crawl's progress with rate and ETA, skipped files with their reasons, and the
//! crawl controls for an admin.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast as _;

use crate::api::{StartCrawl, StopCrawl};
use crate::format::{count, group};
use crate::types::{CrawlProgress, LibraryState, LibraryStatus, Viewer};

/// `m:ss` or `h:mm:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One line about the running or last crawl.
pub fn crawl_line(p: &CrawlProgress) -> Option<String> {
    let t = &p.text;
    let passes = [
        (&p.tags, "Tagging", "with tags"),
        (&p.captions, "Captioning", "with a caption"),
    ];
    if let Some((c, what, found)) = passes.into_iter().find(|(c, ..)| p.running && c.reading) {
        if let Some(prep) = c.preparing {
            return Some(format!(
                "{what}: first embedding the tag vocabulary, {} / {} prompts (once per model; search already works)",
                group(prep.done),
                group(prep.total)
            ));
        }
        let left = c.total.saturating_sub(c.read);
        let eta = if c.rate > 0.0 {
            format!(", about {} left", clock(left as f64 / c.rate))
        } else {
            String::new()
        };
        Some(format!(
            "{what}: {} / {} images, {} {found}, {:.1} images/s{eta} (search already works)",
            group(c.read),
            group(c.total),
            group(c.with_words),
            c.rate
        ))
    } else if p.running && t.reading {
        let left = t.total.saturating_sub(t.read);
        let eta = if t.rate > 0.0 {
            format!(", about {} left", clock(left as f64 / t.rate))
        } else {
            String::new()
        };
        Some(format!(
            "Reading text: {} / {} images, {} with words, {:.1} images/s{eta} (search already works)",
            group(t.read),
            group(t.total),
            group(t.with_words),
            t.rate
        ))
    } else if p.running {
        let total = if p.walked {
            group(p.seen)
        } else {
            format!("{}+ (still looking)", group(p.seen))
        };
        let eta = p
            .eta_s
            .map(|s| format!(", about {} left", clock(s)))
            .unwrap_or_default();
        Some(format!(
            "Indexing: {} of {total} files done, {} embedded, {} skipped, {:.1} images/s{eta}",
            group(p.done),
            group(p.embedded),
            group(p.skipped),
            p.rate
        ))
    } else if p.done > 0 || p.seen > 0 {
        let words = if t.read > 0 {
            format!(", words read in {}", count(t.read, "image"))
        } else {
            String::new()
        };
        Some(format!(
            "Last crawl: {} in {} ({} embedded, {} moved or copied, {} unchanged, {} skipped, {} removed{words})",
            count(p.done, "file"),
            clock(p.elapsed_s),
            group(p.embedded),
            group(p.reused),
            group(p.unchanged),
            group(p.skipped),
            group(p.removed)
        ))
    } else {
        None
    }
}

/// The status panel: starts from the server-rendered `initial` and follows the event stream
/// once hydrated.
#[component]
pub fn StatusPanel(initial: LibraryStatus, viewer: Viewer) -> impl IntoView {
    let status = RwSignal::new(initial);
    let updates = RwSignal::new(0u64);
    // Browser-only: in a SendWrapper, as the server renders on many threads.
    let stream = StoredValue::new(None::<SendWrapper<Stream>>);
    Effect::new(move |_| {
        if stream.with_value(Option::is_some) {
            return;
        }
        stream.set_value(
            Stream::open(move |s| {
                status.set(s);
                updates.update(|n| *n += 1);
            })
            .map(SendWrapper::new),
        );
    });
    on_cleanup(move || {
        stream.update_value(|s| {
            if let Some(s) = s.take() {
                s.source.close();
            }
        });
    });

    view! {
        <section id="library-status" class="space-y-1 pb-2" data-updates=move || updates.get().to_string()>
            {move || status_lines(&status.get())}
            {viewer.admin.then(|| view! { <CrawlControls running=Signal::derive(move || status.with(|s| s.crawl.running))/> })}
            <GuestSwitch viewer/>
        </section>
    }
}

/// The status's lines: the library's state, what is searchable, the crawl's line and bar, a
/// failed crawl, the demo model's note, and the skipped files.
fn status_lines(s: &LibraryStatus) -> impl IntoView {
    let c = &s.counts;
    let summary = format!(
        "{} searchable ({}, {} skipped)",
        count(c.embedded, "image"),
        count(c.files, "file"),
        c.skipped
    );
    let state = match s.state {
        LibraryState::Loading => {
            Some("Opening the library (loading the model and the index)…".to_owned())
        }
        LibraryState::Error => Some(format!(
            "The library could not open: {}",
            s.error.clone().unwrap_or_default()
        )),
        LibraryState::Ready => None,
    };
    let p = &s.crawl;
    let bar = (p.running && p.walked && p.seen > 0).then(|| {
        view! { <progress id="crawl-bar" class="h-2 w-full max-w-md" max=p.seen.to_string() value=p.done.to_string()></progress> }
    });
    let line = crawl_line(p);
    let crawl_error = s
        .crawl_error
        .clone()
        .map(|e| view! { <p id="crawl-error" class="text-sm text-red-700 dark:text-red-400">{format!("The last crawl failed: {e}")}</p> });
    let skipped = (!s.skipped.is_empty()).then(|| {
        let rows = s
            .skipped
            .iter()
            .map(|f| view! { <li><span class="font-mono break-all">{f.path.clone()}</span>": "{f.reason.clone()}</li> })
            .collect_view();
        let title = if c.skipped as usize > s.skipped.len() {
            format!("Skipped files: the latest {} of {}", s.skipped.len(), c.skipped)
        } else {
            format!("Skipped files ({})", s.skipped.len())
        };
        view! {
            <details id="skipped" class="text-sm">
                <summary class="cursor-pointer">{title}</summary>
                <ul class="mt-1 max-h-64 list-inside list-disc space-y-1 overflow-y-auto">{rows}</ul>
            </details>
        }
    });
    let words = (s.text.read > 0).then(|| {
        format!(
            "Words read in {} of {} ({} with words).",
            group(s.text.read),
            count(c.images, "image"),
            group(s.text.with_words)
        )
    });
    let words = words.map(|w| view! { <p id="text-summary" class="text-sm">{w}</p> });
    let tags = (s.tags.read > 0).then(|| {
        view! { <p id="tag-summary" class="text-sm">{format!("Tags given to {} of {} ({} tagged).", group(s.tags.with_words), count(c.images, "image"), group(s.tags.read))}</p> }
    });
    let tag_note = s.tags.note.clone().map(|n| {
        view! { <p id="tag-note" class="text-sm text-stone-600 dark:text-stone-400">{format!("No tags yet: {n}")}</p> }
    });
    let captions = (s.captions.with_words > 0).then(|| {
        view! { <p id="caption-summary" class="text-sm">{format!("Captions written for {} of {}.", group(s.captions.with_words), count(c.images, "image"))}</p> }
    });
    let caption_note = s.captions.note.clone().map(|n| {
        view! { <p id="caption-note" class="text-sm text-stone-600 dark:text-stone-400">{format!("Pictures are not captioned: {n}")}</p> }
    });
    let text_note = s.text.note.clone().map(|n| {
        view! { <p id="text-note" class="text-sm text-stone-600 dark:text-stone-400">{format!("Words in pictures are not read: {n}")}</p> }
    });
    let demo = s.demo_model.then(|| view! {
        <p id="demo-note" class="text-sm text-amber-800 dark:text-amber-300">
            "Demo model: it knows Trove's generated shapes, colours and words, not real photos. Try "
            <a class="underline" href="/search?q=a+red+circle">"a red circle"</a> " or "
            <a class="underline" href="/search?q=a+meme+that+says+hello">"a meme that says hello"</a>
            ". For real photos: " <code>"trove model pull openai/clip-vit-base-patch32"</code> "."
        </p>
    });
    view! {
        {state.map(|s| view! { <p id="library-state">{s}</p> })}
        <p id="library-summary" class="text-stone-700 dark:text-stone-300">{summary}</p>
        {line.map(|l| view! { <p id="crawl-progress" class="text-sm" data-running=p.running.to_string()>{l}</p> })}
        {bar}
        {words}
        {text_note}
        {tags}
        {tag_note}
        {captions}
        {caption_note}
        {crawl_error}
        {demo}
        {skipped}
    }
}

/// Start and stop buttons: server-function forms, so they work with and without JavaScript.
#[component]
fn CrawlControls(running: Signal<bool>) -> impl IntoView {
    let start = ServerAction::<StartCrawl>::new();
    let stop = ServerAction::<StopCrawl>::new();
    let message = move || {
        let failed = |r: Option<Result<(), crate::error::AppError>>| r.and_then(Result::err);
        failed(start.value().get())
            .or_else(|| failed(stop.value().get()))
            .map(|e| view! { <p id="crawl-message" class="text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> })
    };
    let button = "rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 disabled:opacity-40 dark:border-stone-700 dark:hover:bg-stone-800";
    view! {
        <div id="crawl-controls" class="flex flex-wrap items-center gap-2 pt-1">
            <ActionForm action=start>
                <button id="crawl-start" type="submit" class=button disabled=move || running.get()>"Crawl the libraries now"</button>
            </ActionForm>
            <ActionForm action=stop>
                <button id="crawl-stop" type="submit" class=button disabled=move || !running.get()>"Stop the crawl"</button>
            </ActionForm>
            {message}
        </div>
    }
}

/// Lets an admin see the site as guests on the network see it, and come back.
#[component]
fn GuestSwitch(viewer: Viewer) -> impl IntoView {
    if viewer.previewing_guest {
        view! {
            <p id="guest-note" class="text-sm text-stone-600 dark:text-stone-400">
                "You are seeing Trove as a guest on your network sees it. "
                <a class="underline" href="/guest?on=0" rel="external">"Back to the admin view"</a>
            </p>
        }
        .into_any()
    } else if viewer.admin {
        view! {
            <p class="text-sm"><a id="view-as-guest" class="text-stone-500 underline" href="/guest?on=1" rel="external">"See what guests see"</a></p>
        }
        .into_any()
    } else {
        ().into_any()
    }
}

/// The status event stream and its listener.
struct Stream {
    source: web_sys::EventSource,
    _listener: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Stream {
    fn open(mut on_status: impl FnMut(LibraryStatus) + 'static) -> Option<Self> {
        let source = web_sys::EventSource::new("/api/status/events").ok()?;
        let listener = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |ev: web_sys::MessageEvent| {
                if let Some(s) = ev
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<LibraryStatus>(&text).ok())
                {
                    on_status(s);
                }
            },
        );
        source
            .add_event_listener_with_callback("status", listener.as_ref().unchecked_ref())
            .ok()?;
        Some(Stream {
            source,
            _listener: listener,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_naturally() {
        assert_eq!(clock(5.4), "0:05");
        assert_eq!(clock(125.0), "2:05");
        assert_eq!(clock(3_725.0), "1:02:05");
        assert_eq!(clock(-3.0), "0:00");
    }

    #[test]
    fn the_crawl_line_says_what_is_happening() {
        let mut p = CrawlProgress::default();
        assert_eq!(crawl_line(&p), None);
        p.running = true;
        p.seen = 40;
        p.done = 10;
        p.rate = 2.5;
        p.eta_s = Some(12.0);
        let line = crawl_line(&p).expect("running");
        assert!(
            line.contains("10 of 40+ (still looking)") && line.contains("0:12 left"),
            "{line}"
        );
        p.running = false;
        p.walked = true;
        p.unchanged = 40;
        p.done = 40;
        let line = crawl_line(&p).expect("finished");
        assert!(
            line.starts_with("Last crawl: 40 files") && line.contains("40 unchanged"),
            "{line}"
        );
        p.running = true;
        p.text = crate::types::TextProgress {
            reading: true,
            read: 1_234,
            total: 10_000,
            with_words: 300,
            rate: 4.0,
            preparing: None,
        };
        let line = crawl_line(&p).expect("reading");
        assert!(
            line.starts_with("Reading text: 1,234 / 10,000 images, 300 with words")
                && line.contains("about 36:32 left"),
            "{line}"
        );
        p.tags = crate::types::TextProgress {
            reading: true,
            preparing: Some(crate::types::Preparing {
                done: 1_200,
                total: 32_095,
            }),
            ..Default::default()
        };
        let line = crawl_line(&p).expect("preparing");
        assert_eq!(
            line,
            "Tagging: first embedding the tag vocabulary, 1,200 / 32,095 prompts (once per model; search already works)"
        );
        p.tags.preparing = None;
        p.tags.total = 500;
        assert!(crawl_line(&p)
            .expect("tagging")
            .starts_with("Tagging: 0 / 500 images"));
    }
}
