//! Light, dark or follow-the-system theme, remembered in the browser's local storage.
//!
//! The choice is written to `data-theme` on `<html>`; the stylesheet's `dark:` variant reads it
//! and otherwise follows `prefers-color-scheme`.

use leptos::prelude::*;

/// Local-storage key holding the user's choice.
pub const STORAGE_KEY: &str = "trove-theme";

/// Runs in `<head>` before the body paints: applies a stored choice.
pub const EARLY_THEME_SCRIPT: &str = "try{var t=localStorage.getItem('trove-theme');if(t==='light'||t==='dark'){document.documentElement.dataset.theme=t}}catch(e){}";

/// The three choices, cycled by the toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// Follow the operating system.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// The next choice when the toggle is pressed.
    pub fn next(self) -> Self {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    /// The stored and `data-theme` value (`None` for [`Theme::System`]).
    pub fn as_attr(self) -> Option<&'static str> {
        match self {
            Theme::System => None,
            Theme::Light => Some("light"),
            Theme::Dark => Some("dark"),
        }
    }

    /// Parses a stored value; anything unknown means [`Theme::System`].
    pub fn from_attr(value: Option<&str>) -> Self {
        match value {
            Some("light") => Theme::Light,
            Some("dark") => Theme::Dark,
            _ => Theme::System,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Theme::System => "Theme: system",
            Theme::Light => "Theme: light",
            Theme::Dark => "Theme: dark",
        }
    }
}

/// A button cycling system → light → dark.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(Theme::System);
    // Effects run only in the browser: read the stored choice once hydrated…
    Effect::new(move |_| {
        let stored = window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        theme.set(Theme::from_attr(stored.as_deref()));
    });
    // …and apply every change to <html> and to storage.
    let apply = move |next: Theme| {
        theme.set(next);
        let root = document().document_element();
        let storage = window().local_storage().ok().flatten();
        match next.as_attr() {
            Some(value) => {
                if let Some(root) = root {
                    let _ = root.set_attribute("data-theme", value);
                }
                if let Some(s) = storage {
                    let _ = s.set_item(STORAGE_KEY, value);
                }
            }
            None => {
                if let Some(root) = root {
                    let _ = root.remove_attribute("data-theme");
                }
                if let Some(s) = storage {
                    let _ = s.remove_item(STORAGE_KEY);
                }
            }
        }
    };
    view! {
        <button
            id="theme-toggle"
            type="button"
            class="rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800"
            data-theme=move || theme.get().as_attr().unwrap_or("system")
            on:click=move |_| apply(theme.get_untracked().next())
        >
            {move || theme.get().label()}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggle_cycles_through_all_three_and_round_trips_storage() {
        let mut t = Theme::System;
        for _ in 0..3 {
            assert_eq!(Theme::from_attr(t.as_attr()), t);
            t = t.next();
        }
        assert_eq!(t, Theme::System);
        assert_eq!(Theme::from_attr(Some("purple")), Theme::System);
    }
}
