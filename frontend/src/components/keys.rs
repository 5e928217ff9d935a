//! The keyboard, app-wide: `?` lists the keys of every page and of the one shown,
//! `g` then a letter goes to a page, and an open menu closes on Escape or a click
//! outside it. Pages declare their own keys with `page_keys`, so the list is true.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;
use wasm_bindgen::JsCast;

use super::Dialog;
use crate::api::pages;

/// A key (or keys) and what it does.
pub type Key = (&'static str, &'static str);

const EVERYWHERE: &[Key] = &[
    ("?", "show or hide this list"),
    ("g d", "go to the dashboard"),
    ("g w", "go to the runs"),
    ("g a", "go to the agents"),
    ("g n", "go to analytics"),
    ("Esc", "close a menu or dialog"),
];

const GO_TO: &[(&str, &str)] =
    &[("d", pages::DASHBOARD), ("w", pages::WORKFLOWS), ("a", pages::AGENTS), ("n", pages::ANALYTICS)];

/// The keys the page at a path declared (kept by path, so a page left behind never
/// lists its keys on the next).
#[derive(Clone, Copy)]
struct PageKeys(RwSignal<(String, &'static [Key])>);

/// Lists `keys` under "On this page" while the current page is shown.
pub fn page_keys(keys: &'static [Key]) {
    let Some(PageKeys(shown)) = use_context::<PageKeys>() else { return };
    shown.set((use_location().pathname.get_untracked(), keys));
}

/// How long `g` waits for the letter of the page to go to.
const G_WAITS_MS: f64 = 1500.0;

fn target(ev: &web_sys::KeyboardEvent) -> Option<web_sys::Element> {
    ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok())
}

/// Whether a key press is typing (into a field) or a browser shortcut, not ours.
fn typing(ev: &web_sys::KeyboardEvent) -> bool {
    let field = target(ev).is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
    field || ev.ctrl_key() || ev.meta_key() || ev.alt_key()
}

/// Whether a page's keys should leave a key press alone: typing, or inside a dialog.
pub fn not_for_us(ev: &web_sys::KeyboardEvent) -> bool {
    typing(ev) || target(ev).is_some_and(|e| e.closest("dialog").ok().flatten().is_some())
}

/// Closes the open `<details>` menus, except the one holding `inside`.
fn close_menus(inside: Option<&web_sys::Node>) {
    let Ok(open) = document().query_selector_all("details.menu[open]") else { return };
    for index in 0..open.length() {
        let Some(menu) = open.item(index).and_then(|m| m.dyn_into::<web_sys::HtmlDetailsElement>().ok()) else {
            continue;
        };
        if !inside.is_some_and(|node| menu.contains(Some(node))) {
            menu.set_open(false);
        }
    }
}

/// The app's keys and the `?` list; mounted once, in the shell.
#[component]
pub fn Keys() -> impl IntoView {
    let declared = RwSignal::new((String::new(), &[] as &'static [Key]));
    provide_context(PageKeys(declared));
    let path = use_location().pathname;
    let shown = Memo::new(move |_| declared.with(|(at, keys)| path.with(|now| if now == at { *keys } else { &[] })));
    let open = RwSignal::new(false);
    // When `g` was pressed, while its letter may follow.
    let after_g = StoredValue::new(None::<f64>);
    let navigate = use_navigate();
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            close_menus(None);
        }
        let key = ev.key();
        // `?` closes the list from inside it too.
        if typing(&ev) || (key != "?" && not_for_us(&ev)) {
            after_g.set_value(None);
            return;
        }
        let now = js_sys::Date::now();
        if let Some(pressed) = after_g.get_value() {
            after_g.set_value(None);
            let path = GO_TO.iter().find(|(letter, _)| *letter == key).map(|(_, path)| path);
            if let Some(path) = path.filter(|_| now - pressed < G_WAITS_MS) {
                navigate(path, NavigateOptions::default());
                return;
            }
        }
        match key.as_str() {
            "?" => open.update(|open| *open = !*open),
            "g" => after_g.set_value(Some(now)),
            _ => {}
        }
    });
    let clicks = window_event_listener(leptos::ev::pointerdown, move |ev| {
        let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        close_menus(target.as_ref());
    });
    on_cleanup(move || {
        keys.remove();
        clicks.remove();
    });
    let list = |keys: &'static [Key]| {
        keys.iter()
            .map(|(key, what)| {
                let keys = key.split(' ').map(|k| view! { <kbd>{k}</kbd> }).collect_view();
                view! { <dt>{keys}</dt><dd>{*what}</dd> }
            })
            .collect_view()
    };
    view! {
        <Dialog open id="shortcuts">
            <div class="shortcuts" data-testid="shortcuts">
                <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                <h3>"Everywhere"</h3>
                <dl>{list(EVERYWHERE)}</dl>
                {move || (!shown.get().is_empty()).then(|| view! { <h3>"On this page"</h3><dl>{list(shown.get())}</dl> })}
                <div class="dialog-actions">
                    <button type="button" class="secondary" on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </div>
        </Dialog>
    }
}
