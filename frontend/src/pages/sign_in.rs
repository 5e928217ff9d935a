//! Signing in with a token. The link the dashboard prints on its first start
//! (`/login#token=...`) signs in at once; the token never reaches the server's logs
//! because a URL's fragment is not sent, and it is wiped from the address bar.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::api;

/// The token in `#token=...`, removed from the address bar.
fn token_from_link() -> Option<String> {
    let window = web_sys::window()?;
    let hash = window.location().hash().ok()?;
    let token = hash.strip_prefix("#token=").filter(|t| !t.is_empty())?.to_owned();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(api::pages::LOGIN));
    }
    Some(token)
}

#[component]
pub fn SignIn() -> impl IntoView {
    let token = RwSignal::new(String::new());
    let refused = RwSignal::new(None::<String>);
    let signed = expect_context::<crate::SignedIn>();
    let sign_in = Action::new_local(move |secret: &String| {
        let secret = secret.clone();
        async move {
            refused.set(None);
            match api::sign_in(&secret).await {
                Ok(session) => signed.start(session),
                Err(error) => refused.set(Some(error.message)),
            }
        }
    });
    if let Some(secret) = token_from_link() {
        sign_in.dispatch(secret);
    }
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in.dispatch(token.get_untracked());
    };
    let busy = sign_in.pending();
    view! {
        <main id="main" class="sign-in">
            <form class="dialog start-run" on:submit=submit data-testid="sign-in">
                <h1><span class="logo" aria-hidden="true">"⬡"</span>" configurable-agents"</h1>
                <p class="muted">"Sign in with an access token. An administrator makes one with "
                    <code>"configurable-agents token create --role viewer"</code>"."</p>
                <label>"Token"
                    <input type="password" name="token" autocomplete="current-password" required=true
                        data-testid="token" prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev)) />
                </label>
                {move || refused.get().map(|message| view! { <p class="error-box" role="alert">{message}</p> })}
                <div class="dialog-actions">
                    <button type="submit" disabled=busy>"Sign in"</button>
                </div>
            </form>
        </main>
    }
}

/// `/login` once signed in: on to the dashboard.
#[component]
pub fn SignedInAlready() -> impl IntoView {
    let navigate = use_navigate();
    Effect::new(move || navigate(api::pages::DASHBOARD, NavigateOptions { replace: true, ..Default::default() }));
}
