//! Which of the runs table's columns are shown: chosen in a menu, kept in this
//! browser's storage. The run's id, its pick box and its actions always show.

use leptos::prelude::*;
use std::collections::BTreeSet;

use crate::theme::storage;

const STORAGE_KEY: &str = "runs.hidden-columns";

/// The columns that can be hidden: their class suffix and label.
const OPTIONAL: [(&str, &str); 6] = [
    ("workflow", "Workflow"),
    ("status", "Status"),
    ("started_at", "Started"),
    ("duration_seconds", "Duration"),
    ("total_tokens", "Tokens"),
    ("total_cost_usd", "Cost"),
];

#[derive(Clone, Copy)]
pub struct Columns {
    hidden: RwSignal<BTreeSet<String>>,
}

impl Columns {
    pub fn load() -> Columns {
        let saved = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).unwrap_or_default();
        let hidden =
            saved.split(',').filter(|key| OPTIONAL.iter().any(|(known, _)| known == key)).map(str::to_owned).collect();
        Columns { hidden: RwSignal::new(hidden) }
    }

    /// The table's classes: `hide-KEY` per hidden column (style/main.css hides them).
    pub fn classes(self) -> String {
        self.hidden.with(|hidden| hidden.iter().fold("runs".to_owned(), |classes, key| classes + " hide-" + key))
    }

    fn toggle(self, key: &str, shown: bool) {
        self.hidden.update(|hidden| {
            if shown {
                hidden.remove(key);
            } else {
                hidden.insert(key.to_owned());
            }
        });
        let saved = self.hidden.with_untracked(|hidden| hidden.iter().cloned().collect::<Vec<_>>().join(","));
        if let Some(storage) = storage() {
            let _ = storage.set_item(STORAGE_KEY, &saved);
        }
    }
}

#[component]
pub fn ColumnsMenu(columns: Columns) -> impl IntoView {
    view! {
        <details class="menu columns-menu" data-testid="columns-menu">
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
