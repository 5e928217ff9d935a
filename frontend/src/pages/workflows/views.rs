//! Saved views of the runs list: a menu of the caller's and shared views, saving the
//! current filters, sort and shown columns as one, and the caller's default opened on
//! arrival.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::{NewView, RunQuery, SavedView};

use super::columns::Columns;
use crate::components::{confirmed, use_notices, Dialog, Tone};
use crate::{api, live, merge};

/// The filters and sort of `query`, as a view keeps them.
fn filters(query: &RunQuery) -> String {
    api::query_string(&api::run_query_pairs(&RunQuery { limit: None, cursor: None, ..query.clone() }))
}

#[component]
pub fn ViewsMenu(query: Memo<RunQuery>, columns: Columns) -> impl IntoView {
    let notices = use_notices();
    let navigate = use_navigate();
    let views = RwSignal::new(Vec::<SavedView>::new());
    let chosen = RwSignal::new(None::<String>);
    let open = move |view: &SavedView| {
        chosen.set(Some(view.id.clone()));
        columns.show_as(&view.hidden_columns);
        navigate(&format!("{}?{}", api::pages::WORKFLOWS, view.query), NavigateOptions::default());
    };
    // Arriving without filters opens the caller's default view (at the first answer).
    let arrived = StoredValue::new(false);
    let arrive = open.clone();
    let reload = merge::follow(
        live::global(),
        api::views,
        move |answer| {
            let Ok(found) = answer else { return };
            if !arrived.get_value() && filters(&query.get_untracked()).is_empty() {
                if let Some(default) = found.iter().find(|v| v.mine && v.default) {
                    arrive(default);
                }
            }
            arrived.set_value(true);
            views.set(found);
        },
        |_, _| {},
    );
    let load = move || reload.run();
    let save = Action::new_local(move |new: &NewView| {
        let new = new.clone();
        async move {
            match api::save_view(None, &new).await {
                Ok(view) => {
                    notices.say(Tone::Success, format!("View “{}” saved", view.name));
                    chosen.set(Some(view.id));
                    load();
                }
                Err(error) => notices.say(Tone::Error, format!("Could not save the view: {error}")),
            }
        }
    });
    let change = Action::new_local(move |(view, remove): &(SavedView, bool)| {
        let (view, remove) = (view.clone(), *remove);
        async move {
            let done = if remove {
                api::delete_view(&view.id).await
            } else {
                let new = NewView {
                    name: view.name,
                    query: view.query,
                    shared: view.shared,
                    default: true,
                    hidden_columns: view.hidden_columns,
                };
                api::save_view(Some(&view.id), &new).await.map(|_| ())
            };
            if let Err(error) = done {
                notices.say(Tone::Error, format!("Could not change the view: {error}"));
            }
            load();
        }
    });
    let saving = RwSignal::new(false);
    let (name, shared) = (RwSignal::new(String::new()), RwSignal::new(false));
    let ask_name = move |_| {
        name.set(String::new());
        shared.set(false);
        saving.set(true);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen_name = name.get_untracked().trim().to_owned();
        if chosen_name.is_empty() {
            return;
        }
        let new = NewView {
            name: chosen_name,
            query: filters(&query.get_untracked()),
            shared: shared.get_untracked(),
            default: false,
            hidden_columns: columns.hidden(),
        };
        save.dispatch(new);
        saving.set(false);
    };
    let selected = move || chosen.get().and_then(|id| views.with(|all| all.iter().find(|v| v.id == id).cloned()));
    view! {
        <div class="views" data-testid="views">
            <label>"View"
                <select data-testid="view-menu" prop:value=move || chosen.get().unwrap_or_default()
                    on:change=move |ev| {
                        let id = event_target_value(&ev);
                        if let Some(view) = views.with_untracked(|all| all.iter().find(|v| v.id == id).cloned()) {
                            open(&view);
                        }
                    }>
                    <option value="">"—"</option>
                    {move || views.get().into_iter().map(|v| {
                        let mark = match (v.default, v.mine) {
                            (true, true) => " ★",
                            (_, false) => " (shared)",
                            _ => "",
                        };
                        view! { <option value=v.id.clone()>{format!("{}{mark}", v.name)}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="button" class="secondary" data-testid="save-view" on:click=ask_name>"Save view"</button>
            <Dialog open=saving id="save-view">
                <h2 id="save-view-title">"Save this view"</h2>
                <form on:submit=submit data-testid="save-view-form">
                    <label>"Name"
                        <input required maxlength="100" autofocus data-testid="view-name" bind:value=name />
                    </label>
                    <label class="check">
                        <input type="checkbox" data-testid="view-shared" bind:checked=shared />
                        "Shared with everyone (else it is yours alone)"
                    </label>
                    <p class="muted small">"It keeps the filters, the sort and the columns shown now."</p>
                    <div class="dialog-actions">
                        <button type="button" class="secondary" on:click=move |_| saving.set(false)>"Cancel"</button>
                        <button type="submit">"Save view"</button>
                    </div>
                </form>
            </Dialog>
            {move || selected().filter(|v| v.mine).map(|v| {
                let (to_default, to_remove) = (v.clone(), v.clone());
                view! {
                    <button type="button" class="small secondary" disabled=v.default
                        on:click=move |_| { change.dispatch((to_default.clone(), false)); }>"Make default"</button>
                    <button type="button" class="small danger" on:click=move |_| {
                        if confirmed(&format!("Delete the view “{}”?", to_remove.name)) { change.dispatch((to_remove.clone(), true)); }
                    }>"Delete"</button>
                }
            })}
        </div>
    }
}
