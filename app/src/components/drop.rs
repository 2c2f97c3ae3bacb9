//! Page-wide input: `/` focuses the search box, and an image pasted or dropped anywhere on the
//! page is searched for (`POST /api/search/image`, then `/search?upload=KEY`).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use wasm_bindgen::JsCast as _;

use crate::components::results::typing;

/// What the upload answered.
#[derive(serde::Deserialize)]
struct Uploaded {
    upload: Option<String>,
    error: Option<String>,
}

/// `/` (outside a text field) puts the focus in the search box, its text selected.
fn focus_search_box(ev: &web_sys::KeyboardEvent) {
    if ev.key() == "/" && !typing(ev) && !ev.ctrl_key() && !ev.meta_key() {
        if let Some(input) = document()
            .get_element_by_id("q")
            .and_then(|el| el.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            ev.prevent_default();
            let _ = input.focus();
            input.select();
        }
    }
}

/// Listens on the whole window; shows a hint while an image is dragged over the page and the
/// reason when an upload fails.
#[component]
pub fn PageInput() -> impl IntoView {
    let dragging = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let navigate = use_navigate();

    let search_file = move |file: web_sys::File| {
        busy.set(true);
        failed.set(None);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match upload(file).await {
                Ok(key) => {
                    busy.set(false);
                    navigate(&format!("/search?upload={key}"), Default::default());
                }
                Err(message) => {
                    busy.set(false);
                    failed.set(Some(message));
                }
            }
        });
    };

    let mut handles = Vec::new();
    handles.push(window_event_listener(leptos::ev::keydown, |ev| {
        focus_search_box(&ev);
    }));
    handles.push(window_event_listener(leptos::ev::dragover, move |ev| {
        if carries_files(ev.data_transfer()) {
            ev.prevent_default();
            dragging.set(true);
        }
    }));
    handles.push(window_event_listener(leptos::ev::dragleave, move |ev| {
        // Leaving the window (not just one element inside it).
        if ev.related_target().is_none() {
            dragging.set(false);
        }
    }));
    let on_drop = search_file.clone();
    handles.push(window_event_listener(leptos::ev::drop, move |ev| {
        dragging.set(false);
        if let Some(file) = first_image(ev.data_transfer()) {
            ev.prevent_default();
            on_drop(file);
        }
    }));
    handles.push(window_event_listener(leptos::ev::paste, move |ev| {
        if let Some(file) = first_image(ev.clipboard_data()) {
            ev.prevent_default();
            search_file(file);
        }
    }));
    on_cleanup(move || handles.into_iter().for_each(|h| h.remove()));

    view! {
        <Show when=move || dragging.get()>
            <div id="drop-hint" class="pointer-events-none fixed inset-0 z-40 flex items-center justify-center border-4 border-dashed border-amber-500 bg-amber-500/10 text-2xl font-medium">
                "Drop the image to find pictures like it"
            </div>
        </Show>
        <Show when=move || busy.get()>
            <div id="upload-busy" role="status" class="fixed bottom-4 left-1/2 z-40 -translate-x-1/2 rounded-lg bg-stone-900 px-4 py-2 text-stone-100 shadow-lg">
                "Looking at your image…"
            </div>
        </Show>
        {move || failed.get().map(|message| view! {
            <div id="upload-error" role="alert" class="fixed bottom-4 left-1/2 z-40 flex -translate-x-1/2 gap-3 rounded-lg bg-red-800 px-4 py-2 text-white shadow-lg">
                <span>{message}</span>
                <button type="button" class="underline" on:click=move |_| failed.set(None)>"Dismiss"</button>
            </div>
        })}
    }
}

fn carries_files(data: Option<web_sys::DataTransfer>) -> bool {
    data.is_some_and(|d| {
        d.types()
            .iter()
            .any(|t| t.as_string().as_deref() == Some("Files"))
    })
}

/// The first image file in a drop or paste.
fn first_image(data: Option<web_sys::DataTransfer>) -> Option<web_sys::File> {
    let files = data?.files()?;
    (0..files.length())
        .filter_map(|i| files.get(i))
        .find(|f| f.type_().starts_with("image/") || f.type_().is_empty())
}

/// Sends the file to the server and returns its upload key, or a message for the user.
async fn upload(file: web_sys::File) -> Result<String, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&file);
    let response = wasm_bindgen_futures::JsFuture::from(
        window().fetch_with_str_and_init("/api/search/image?limit=1", &init),
    )
    .await
    .map_err(|_| "The server could not be reached.".to_owned())?
    .dyn_into::<web_sys::Response>()
    .map_err(|_| "The server's answer was not understood.".to_owned())?;
    let status = response.status();
    let text = match response.text() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if status == 413 {
        return Err("That image is too large to upload.".into());
    }
    let answer: Uploaded =
        serde_json::from_str(&text).map_err(|_| format!("The upload failed (HTTP {status})."))?;
    match (answer.upload, answer.error) {
        (Some(key), _) => Ok(key),
        (None, Some(e)) => Err(e),
        (None, None) => Err(format!("The upload failed (HTTP {status}).")),
    }
}
