//! Alerts to outgoing webhooks, for admins: each webhook's last delivery, a test, and
//! a form; the signing secret is shown once, when a webhook is added.

use leptos::prelude::*;
use shared::{Alert, NewWebhook, Webhook};

use crate::components::{confirmed, use_notices, Empty, Failure, Loading, Time, Tone};
use crate::{api, live, merge};

#[component]
pub fn Webhooks() -> impl IntoView {
    let notices = use_notices();
    let hooks = RwSignal::new(None::<Result<Vec<Webhook>, String>>);
    // Alerts go out as runs end: their deliveries show then.
    let reload = merge::follow(
        live::global(),
        api::webhooks,
        move |answer| hooks.set(Some(answer.map_err(|e| e.message))),
        merge::reload_when_runs_finish(std::time::Duration::from_secs(5)),
    );
    let load = move || reload.run();
    let url = RwSignal::new(String::new());
    let chosen: Vec<(Alert, RwSignal<bool>)> = Alert::CHOSEN.iter().map(|a| (*a, RwSignal::new(true))).collect();
    let secret = RwSignal::new(None::<String>);
    let picked = chosen.clone();
    let add = Action::new_local(move |_: &()| {
        let events = picked.iter().filter(|(_, on)| on.get_untracked()).map(|(a, _)| *a).collect();
        let hook = NewWebhook { url: url.get_untracked().trim().to_owned(), events: Some(events) };
        async move {
            match api::create_webhook(&hook).await {
                Ok(created) => {
                    secret.set(Some(created.secret));
                    url.set(String::new());
                    load();
                }
                Err(error) => notices.say(Tone::Error, format!("Could not add the webhook: {error}")),
            }
        }
    });
    let test = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match api::test_webhook(&id).await {
                Ok(result) if result.delivered => notices.say(Tone::Success, "Test alert delivered".to_owned()),
                Ok(result) => {
                    notices.say(Tone::Error, format!("Test alert not delivered: {}", result.error.unwrap_or_default()))
                }
                Err(error) => notices.say(Tone::Error, format!("Could not test the webhook: {error}")),
            }
            load();
        }
    });
    let remove = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            if let Err(error) = api::delete_webhook(&id).await {
                notices.say(Tone::Error, format!("Could not remove the webhook: {error}"));
            }
            load();
        }
    });
    view! {
        <section class="panel" aria-labelledby="webhooks">
            <h2 id="webhooks">"Alerts to webhooks"</h2>
            <p class="muted small">"Each alert is a signed JSON POST (Slack-compatible " <code>"text"</code>
                ", HMAC-SHA256 of the body in " <code>"X-Dashboard-Signature"</code> "), retried with backoff."</p>
            {move || secret.get().map(|secret| view! {
                <p class="banner warn" data-testid="webhook-secret">"Signing secret, shown this once: " <code>{secret}</code></p>
            })}
            {move || match hooks.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(message)) => view! { <Failure message retry=load /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <Empty text="No webhooks yet." /> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap"><table class="stack" data-testid="webhooks">
                        <thead><tr><th>"URL"</th><th>"Alerts"</th><th>"Last attempt"</th><th class="num">"Delivered"</th><th class="num">"Failed"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|hook| {
                                let (tested, removed) = (hook.id.clone(), hook.id.clone());
                                let last = match (hook.last_attempt_at, hook.last_status, hook.last_error.clone()) {
                                    (None, ..) => view! { <span class="muted">"never"</span> }.into_any(),
                                    (Some(at), status, error) => view! {
                                        <Time at />
                                        {status.map(|s| format!(" · {s}"))}
                                        {error.map(|e| view! { <span class="error-text">" · " {e}</span> })}
                                    }.into_any(),
                                };
                                view! {
                                    <tr>
                                        <td class="mono" data-label="URL">{hook.url.clone()}</td>
                                        <td data-label="Alerts">{hook.events.iter().map(|a| view! { <span class="chip">{a.as_str()}</span> }).collect_view()}</td>
                                        <td data-label="Last attempt">{last}</td>
                                        <td class="num" data-label="Delivered">{hook.delivered}</td>
                                        <td class="num" data-label="Failed">{hook.failed}</td>
                                        <td class="row-actions">
                                            <button class="small secondary" on:click=move |_| { test.dispatch(tested.clone()); }>"Test"</button>
                                            <button class="small danger" on:click=move |_| {
                                                if confirmed("Remove this webhook?") { remove.dispatch(removed.clone()); }
                                            }>"Remove"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any(),
            }}
            <form class="filters budget-form" data-testid="webhook-form" on:submit=move |ev| { ev.prevent_default(); add.dispatch(()); }>
                <label class="grow">"URL"<input required type="url" placeholder="https://hooks.slack.com/services/…" bind:value=url /></label>
                <fieldset class="switch">
                    <legend class="visually-hidden">"Alerts"</legend>
                    {chosen.into_iter().map(|(alert, on)| view! {
                        <label class="check"><input type="checkbox" bind:checked=on />{alert.as_str()}</label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" disabled=add.pending()>"Add webhook"</button>
            </form>
        </section>
    }
}
