//! Modal dialogs as the browser makes them (`<dialog>` shown with `showModal`): focus
//! moves in, Tab stays in (the page behind is inert), Escape closes, and focus returns
//! to what had it; a click on the backdrop closes too. While one is open it holds the
//! page still (`hold`).

use leptos::prelude::*;

use super::hold;

#[component]
pub fn Dialog(
    /// Whether it is open; closing it (Escape, the backdrop, a button) sets it false.
    open: RwSignal<bool>,
    /// Names the hold it makes, and labels it (`aria-labelledby` this id's heading).
    id: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        let Some(dialog) = node.get() else { return };
        let wanted = open.get();
        hold::hold(id, wanted);
        if wanted && !dialog.open() {
            let _ = dialog.show_modal();
        } else if !wanted && dialog.open() {
            dialog.close();
        }
    });
    on_cleanup(move || hold::hold(id, false));
    view! {
        <dialog node_ref=node class="dialog" aria-labelledby=format!("{id}-title")
            on:close=move |_| open.set(false)
            // The dialog itself is only hit outside its content: the backdrop.
            on:click=move |ev| {
                let on_backdrop = node.get_untracked().is_some_and(|d| {
                    ev.target().is_some_and(|t| wasm_bindgen::JsValue::from(t) == wasm_bindgen::JsValue::from(d))
                });
                if on_backdrop { open.set(false); }
            }>
            <div class="dialog-body">{move || open.get().then(|| children())}</div>
        </dialog>
    }
}
