//! Answers asked for before the app's code ran. `index.html`'s first script asks for
//! the session, and on a plain `/workflows` for the first page of runs once the
//! session is known (the live stream resumes from the session's event, so the page must
//! be read after it), while the WASM downloads and compiles; the app's first request
//! for the same URL takes the answer instead of asking again.

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Where `index.html` leaves its requests, by URL.
const REQUESTS: &str = "__early";

/// The answer to the early request for `url`, once: `None` when there was none, or it
/// failed before an answer (the caller asks itself).
pub async fn take(url: &str) -> Option<gloo_net::http::Response> {
    let requests = Reflect::get(&js_sys::global(), &JsValue::from_str(REQUESTS)).ok()?;
    let key = JsValue::from_str(url);
    let pending = Reflect::get(&requests, &key).ok()?.dyn_into::<Promise>().ok()?;
    let _ = Reflect::delete_property(requests.unchecked_ref::<js_sys::Object>(), &key);
    let answer = JsFuture::from(pending).await.ok()?;
    answer.dyn_into::<web_sys::Response>().ok().map(Into::into)
}
