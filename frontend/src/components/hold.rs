//! What holds a page still: the menus and dialogs open on it, by name. A page whose
//! rows change live (the runs list) lets them wait while anything holds it, so nothing
//! moves under the operator's hand.

use leptos::prelude::*;
use std::collections::BTreeSet;

#[derive(Clone, Copy)]
pub struct Holds(RwSignal<BTreeSet<&'static str>>);

pub fn provide_holds() {
    provide_context(Holds(RwSignal::new(BTreeSet::new())));
}

/// Holds (or lets go) on behalf of `what`.
pub fn hold(what: &'static str, on: bool) {
    if let Some(Holds(holds)) = use_context::<Holds>() {
        if holds.with_untracked(|all| all.contains(what)) != on {
            holds.update(|all| {
                if on {
                    all.insert(what);
                } else {
                    all.remove(what);
                }
            });
        }
    }
}

/// Whether anything holds the page.
pub fn held() -> Signal<bool> {
    let holds = use_context::<Holds>();
    Signal::derive(move || holds.is_some_and(|Holds(all)| all.with(|all| !all.is_empty())))
}

/// For a `<details>` menu's `toggle` event: holds while it is open.
pub fn menu_toggled(what: &'static str) -> impl Fn(leptos::ev::Event) + Clone + 'static {
    move |ev| {
        let open = event_target::<web_sys::HtmlDetailsElement>(&ev).open();
        hold(what, open);
    }
}
