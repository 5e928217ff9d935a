//! Which of the runs table's columns are shown: chosen in a menu or by a saved view,
//! kept in this browser's storage. The run's id, its pick box and its actions always
//! show.

use leptos::prelude::*;
use shared::OPTIONAL_COLUMNS as OPTIONAL;
use std::collections::BTreeSet;

use crate::theme::storage;

const STORAGE_KEY: &str = "runs.hidden-columns";

#[derive(Clone, Copy)]
pub struct Columns {
    hidden: RwSignal<BTreeSet<String>>,
}

impl Columns {
    pub fn load() -> Columns {
        let saved = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).unwrap_or_default();
        Columns { hidden: RwSignal::new(known(saved.split(','))) }
    }

    /// The table's classes: `hide-KEY` per hidden column (style/main.css hides them).
    pub fn classes(self) -> String {
        self.hidden.with(|hidden| hidden.iter().fold("runs".to_owned(), |classes, key| classes + " hide-" + key))
    }

    /// The hidden columns, for a saved view.
    pub fn hidden(self) -> Vec<String> {
        self.hidden.with_untracked(|hidden| hidden.iter().cloned().collect())
    }

    /// Shows what a saved view shows.
    pub fn show_as(self, hidden: &[String]) {
        self.hidden.set(known(hidden.iter().map(String::as_str)));
        self.keep();
    }

    fn toggle(self, key: &str, shown: bool) {
        self.hidden.update(|hidden| {
            if shown {
                hidden.remove(key);
            } else {
                hidden.insert(key.to_owned());
            }
        });
        self.keep();
    }

    fn keep(self) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(STORAGE_KEY, &self.hidden().join(","));
        }
    }
}

/// The optional columns among `keys`.
fn known<'k>(keys: impl Iterator<Item = &'k str>) -> BTreeSet<String> {
    keys.filter(|key| OPTIONAL.iter().any(|(known, _)| known == key)).map(str::to_owned).collect()
}

#[component]
pub fn ColumnsMenu(columns: Columns) -> impl IntoView {
    view! {
        <details class="menu columns-menu" data-testid="columns-menu" on:toggle=crate::components::hold::menu_toggled("columns")>
            <summary class="button secondary">"Columns"</summary>
            <div class="menu-body">
                {OPTIONAL.map(|(key, label)| view! {
                    <label class="check">
                        <input type="checkbox" data-testid=format!("column-{key}")
                            prop:checked=move || columns.hidden.with(|hidden| !hidden.contains(key))
                            on:change=move |ev| columns.toggle(key, event_target_checked(&ev)) />
                        {label}
                    </label>
                }).collect_view()}
            </div>
        </details>
    }
}
