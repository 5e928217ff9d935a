//! Light or dark: the system's choice until the toggle picks one, which is remembered.
//! A few lines of our own rather than leptos-use's `use_color_mode`, which brings a
//! cookie jar and a date library along (about 90 KB of WASM) that the app has no use for.

use leptos::prelude::*;

/// Where the choice is kept: the key leptos-use used, so a choice made before stays.
const KEY: &str = "leptos-use-color-scheme";

/// Whether the dark theme shows, and the toggle between the two.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub dark: RwSignal<bool>,
}

impl Theme {
    /// The remembered choice, applied to the page; else the system's.
    pub fn new() -> Theme {
        let chosen = storage().and_then(|s| s.get_item(KEY).ok().flatten());
        let dark = match chosen.as_deref() {
            Some("dark") => true,
            Some("light") => false,
            _ => system_prefers_dark(),
        };
        if chosen.is_some() {
            apply(dark);
        }
        Theme { dark: RwSignal::new(dark) }
    }

    pub fn toggle(&self) {
        let dark = !self.dark.get_untracked();
        self.dark.set(dark);
        apply(dark);
        if let Some(storage) = storage() {
            // Private browsing may refuse; the page still switches.
            let _ = storage.set_item(KEY, if dark { "dark" } else { "light" });
        }
    }
}

/// `html.dark` or `html.light` (style/main.css) overrides the system's scheme.
fn apply(dark: bool) {
    let root = document().document_element().map(|html| html.class_list());
    if let Some(classes) = root {
        let (on, off) = if dark { ("dark", "light") } else { ("light", "dark") };
        let _ = classes.remove_1(off);
        let _ = classes.add_1(on);
    }
}

fn system_prefers_dark() -> bool {
    window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|query| query.matches())
}

/// This browser's local storage, where the app keeps its display choices.
pub fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}
