//! The admin's model picker: the model in use, where that choice came from, and the installed
//! models to switch to (the library is embedded again with the new one, in a crawl). A form of
//! a server function, so it works with and without JavaScript.

use leptos::prelude::*;

use crate::api::{get_models, SelectModel};
use crate::types::ModelChoice;

/// One option's label: id, family and width, or what is wrong with it.
pub fn choice_label(m: &ModelChoice) -> String {
    let mut label = m.id.clone();
    if m.demo {
        label.push_str(" (built-in demo)");
    }
    match (&m.problem, &m.family, m.dim) {
        (Some(problem), ..) => label.push_str(&format!(": {problem}")),
        (None, Some(family), Some(dim)) => label.push_str(&format!(", {family} {dim}-d")),
        (None, Some(family), None) => label.push_str(&format!(", {family}")),
        _ => {}
    }
    if m.bytes > 0 {
        label.push_str(&format!(", {}", crate::format::human_bytes(m.bytes)));
    }
    if m.active {
        label.push_str(" — in use");
    }
    label
}

/// The model panel (render it for admins only).
#[component]
pub fn ModelPanel(select: ServerAction<SelectModel>) -> impl IntoView {
    let list = Resource::new_blocking(move || select.version().get(), |_| get_models());
    let pending = select.pending();
    let outcome = move || {
        select
            .value()
            .get()
            .map(|result| super::action_message("model-message", result))
    };
    let button = "rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 disabled:opacity-50 dark:border-stone-700 dark:hover:bg-stone-800";
    let input = "min-w-0 flex-1 rounded-md border border-stone-300 bg-white px-2 py-1 text-sm dark:border-stone-700 dark:bg-stone-900";
    view! {
        <section id="model-panel" class="space-y-2 pb-6">
            <h2 class="text-lg font-medium">"Model"</h2>
            <Suspense fallback=|| view! { <p class="text-stone-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => {
                            let options = list.models.iter().map(|m| {
                                view! {
                                    <option value=m.id.clone() selected=m.active disabled=m.problem.is_some()>
                                        {choice_label(m)}
                                    </option>
                                }
                            }).collect_view();
                            view! {
                                <p class="text-sm">
                                    "In use: "<span id="model-active" class="font-mono">{list.active.clone()}</span>
                                    <span class="text-stone-500">{format!(" (chosen by {})", list.chosen_by)}</span>
                                </p>
                                <ActionForm action=select attr:class="flex max-w-2xl gap-2" attr:id="select-model">
                                    <select id="model-choice" name="model" aria-label="Model to use" class=input>{options}</select>
                                    <button type="submit" class=button disabled=move || pending.get()>
                                        {move || if pending.get() { "Switching…" } else { "Use this model" }}
                                    </button>
                                </ActionForm>
                                <p class="text-sm text-stone-600 dark:text-stone-400">
                                    "Switching embeds every image again with the new model (the old embeddings are kept, so switching back is quick). "
                                    {list.install_hint.clone()}
                                </p>
                            }.into_any()
                        }
                        Err(e) => view! { <p class="text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            {outcome}
        </section>
    }
}
