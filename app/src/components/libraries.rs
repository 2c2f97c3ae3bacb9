//! The library folders, with their file counts, and the imported Lightroom catalogs and Photos
//! libraries; an admin can add a folder (it is crawled at once), a Photos library
//! (`.photoslibrary`: imported, its pictures crawled) or a catalog (`.lrcat`: its keywords, ratings and
//! collections are imported), or remove one (a folder's images are forgotten, a catalog's
//! facts; files untouched). Forms of server functions, so they work with and without
//! JavaScript.

use leptos::prelude::*;

use crate::api::{get_libraries, AddLibrary, RemoveLibrary};

/// The folders panel.
#[component]
pub fn Libraries(admin: bool) -> impl IntoView {
    let add = ServerAction::<AddLibrary>::new();
    let remove = ServerAction::<RemoveLibrary>::new();
    // Blocking: in the first HTML, so the forms hydrate together with the rest of the page.
    let roots = Resource::new_blocking(
        move || (add.version().get(), remove.version().get()),
        |_| get_libraries(),
    );
    // The outcome of whichever action finished last.
    let message = RwSignal::new(None::<Result<String, crate::error::AppError>>);
    Effect::new(move |_| {
        if let Some(v) = add.value().get() {
            message.set(Some(v));
        }
    });
    Effect::new(move |_| {
        if let Some(v) = remove.value().get() {
            message.set(Some(v));
        }
    });
    let outcome = move || {
        message
            .get()
            .map(|result| super::action_message("library-message", result))
    };
    let input = "min-w-0 flex-1 rounded-md border border-stone-300 bg-white px-2 py-1 font-mono text-sm dark:border-stone-700 dark:bg-stone-900";
    let button = "rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800";
    view! {
        <section id="libraries-panel" class="space-y-2 pb-6">
            <h2 class="text-lg font-medium">"Library folders"</h2>
            <Suspense fallback=|| view! { <p class="text-stone-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match roots.await {
                        Ok(list) if list.libraries.is_empty() => view! {
                            <p id="no-libraries" class="text-stone-600 dark:text-stone-400">
                                "No library folder yet: Trove is showing its generated demo images. "
                                {if admin { "Add a folder below, or start Trove with --library <folder>." } else { "The admin can add one." }}
                            </p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul id="libraries" class="space-y-1">
                                {list.libraries.into_iter().map(|root| {
                                    let path = root.path.clone();
                                    let removable = admin && !root.configured;
                                    view! {
                                        <li class="flex flex-wrap items-center gap-2 text-sm" data-path=root.path.clone()>
                                            <span class="break-all font-mono">{root.path.clone()}</span>
                                            <span class="text-stone-500">{crate::format::count(root.files, "file")}</span>
                                            {root.configured.then(|| view! { <span class="rounded bg-stone-200 px-1 text-xs dark:bg-stone-800">"from the configuration"</span> })}
                                            {removable.then(|| view! {
                                                <ActionForm action=remove>
                                                    <input type="hidden" name="path" value=path/>
                                                    <button type="submit" class="remove-library text-xs text-red-700 underline dark:text-red-400">"Remove"</button>
                                                </ActionForm>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let catalogs = roots.await.map(|l| l.catalogs).unwrap_or_default();
                    (!catalogs.is_empty()).then(|| view! {
                        <ul id="catalogs" class="space-y-1">
                            {catalogs.into_iter().map(|c| {
                                let path = c.path.clone();
                                view! {
                                    <li class="flex flex-wrap items-center gap-2 text-sm" data-path=c.path.clone()>
                                        <span class="rounded bg-amber-100 px-1 text-xs dark:bg-amber-900">{if c.kind == "photos" { "Photos library" } else { "Lightroom catalog" }}</span>
                                        <span class="break-all font-mono">{c.path.clone()}</span>
                                        <span class="text-stone-500">{format!("{}, {} matched", crate::format::count(c.photos, "photo"), crate::format::group(c.matched))}</span>
                                        {admin.then(|| view! {
                                            <ActionForm action=remove>
                                                <input type="hidden" name="path" value=path/>
                                                <button type="submit" class="remove-catalog text-xs text-red-700 underline dark:text-red-400">"Remove"</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Suspense>
            {admin.then(|| view! {
                <ActionForm action=add attr:class="flex max-w-2xl gap-2" attr:id="add-library">
                    <input id="library-path" type="text" name="path" required placeholder="/home/me/Pictures, a Lightroom catalog (.lrcat) or a Photos library (.photoslibrary)" aria-label="Folder, Lightroom catalog or Photos library to add" class=input/>
                    <button type="submit" class=button>"Add"</button>
                </ActionForm>
            })}
            {outcome}
        </section>
    }
}
