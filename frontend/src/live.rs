//! Live data: EventSource connections to `/api/events`, with an honest status.
//!
//! The browser reconnects an EventSource by itself after a network error and sends
//! `Last-Event-ID`, but gives up for good when a reconnect gets an HTTP error (a proxy's
//! 502 while the server restarts). Then we open a new one, passing the last id we saw
//! as `?last_event_id=`, so the server replays what we missed. A stream belongs to the
//! component that opens it: its state lives in that component's arena and the
//! connection closes when the component goes. The browser's callbacks hold only a weak
//! reference, so nothing keeps a closed stream alive.

use leptos::prelude::*;
use shared::Event;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::api;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting,
    Offline,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
            Connection::Offline => "offline",
        }
    }
}

/// After this many failed attempts in a row the stream counts as offline.
const OFFLINE_AFTER: u32 = 4;

type Handler = Rc<dyn Fn(&Event)>;

struct Connected {
    topics: String,
    run: Option<String>,
    source: Option<EventSource>,
    last_event_id: Option<i64>,
    failures: u32,
    handlers: Vec<(u64, Handler)>,
    next_handler: u64,
    status: RwSignal<Connection>,
    // Kept alive as long as the EventSource may call them.
    callbacks: Vec<Closure<dyn FnMut(MessageEvent)>>,
}

/// Whichever goes first, the component's cleanup or its arena, the connection closes.
impl Drop for Connected {
    fn drop(&mut self) {
        if let Some(source) = self.source.take() {
            source.close();
        }
    }
}

type Shared = Rc<RefCell<Connected>>;

/// A handle to one live stream, owned by the component that opened it.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    state: StoredValue<Shared, LocalStorage>,
    pub status: RwSignal<Connection>,
    /// Opened from a known event: every change after it arrives, so a read made
    /// since then needs no second read when the stream is ready.
    pub resumed: bool,
}

impl Stream {
    /// Opens a stream of `topics` (comma-separated), optionally for one run, from the
    /// event `since` if known; it closes when the current component is cleaned up.
    pub fn open(topics: &str, run: Option<String>, since: Option<i64>) -> Stream {
        let status = RwSignal::new(Connection::Connecting);
        let shared = Rc::new(RefCell::new(Connected {
            topics: topics.to_owned(),
            run,
            source: None,
            last_event_id: since,
            failures: 0,
            handlers: Vec::new(),
            next_handler: 0,
            status,
            callbacks: Vec::new(),
        }));
        connect(Rc::downgrade(&shared));
        let stream = Stream { state: StoredValue::new_local(shared), status, resumed: since.is_some() };
        on_cleanup(move || stream.close());
        stream
    }

    /// Calls `handler` with every event of this stream until the current component is
    /// cleaned up.
    pub fn on_event(self, handler: impl Fn(&Event) + 'static) {
        let Some(shared) = self.state.try_get_value() else { return };
        let id = {
            let mut stream = shared.borrow_mut();
            stream.next_handler += 1;
            let id = stream.next_handler;
            stream.handlers.push((id, Rc::new(handler)));
            id
        };
        let state = self.state;
        on_cleanup(move || {
            if let Some(shared) = state.try_get_value() {
                shared.borrow_mut().handlers.retain(|(handler, _)| *handler != id);
            }
        });
    }

    /// The last event received, if any.
    pub fn last_event_id(self) -> Option<i64> {
        self.state.try_get_value().and_then(|shared| shared.borrow().last_event_id)
    }

    fn close(self) {
        if let Some(shared) = self.state.try_get_value() {
            let mut stream = shared.borrow_mut();
            if let Some(source) = stream.source.take() {
                source.close();
            }
            stream.callbacks.clear();
            stream.handlers.clear();
        }
    }
}

fn connect(weak: Weak<RefCell<Connected>>) {
    let Some(shared) = weak.upgrade() else { return };
    let url = {
        let stream = shared.borrow();
        api::events(&stream.topics, stream.run.as_deref(), stream.last_event_id)
    };
    let Ok(source) = EventSource::new(&url) else {
        schedule_reconnect(&shared);
        return;
    };
    let mut callbacks: Vec<Closure<dyn FnMut(MessageEvent)>> = Vec::new();
    for name in Event::NAMES {
        let weak = weak.clone();
        let callback =
            Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| receive(&weak, name, &message));
        let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        callbacks.push(callback);
    }
    let opened = weak.clone();
    let on_open = Closure::<dyn FnMut(MessageEvent)>::new(move |_| {
        if let Some(shared) = opened.upgrade() {
            let mut stream = shared.borrow_mut();
            stream.failures = 0;
            stream.status.set(Connection::Live);
        }
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    callbacks.push(on_open);
    let on_error = Closure::<dyn FnMut(MessageEvent)>::new(move |_| failed(&weak));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    callbacks.push(on_error);
    let mut stream = shared.borrow_mut();
    if let Some(old) = stream.source.replace(source) {
        old.close();
    }
    stream.callbacks = callbacks;
}

fn browser_online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

fn failed(weak: &Weak<RefCell<Connected>>) {
    let Some(shared) = weak.upgrade() else { return };
    let gave_up = {
        let mut stream = shared.borrow_mut();
        stream.failures += 1;
        let offline = !browser_online() || stream.failures >= OFFLINE_AFTER;
        stream.status.set(if offline { Connection::Offline } else { Connection::Reconnecting });
        stream.source.as_ref().is_some_and(|s| s.ready_state() == EventSource::CLOSED)
    };
    if gave_up {
        // An EventSource does not say why it gave up: if the session ended (signed out
        // elsewhere, token revoked), this answers 401 and the app asks to sign in.
        leptos::task::spawn_local(async {
            let _ = api::session().await;
        });
        schedule_reconnect(&shared);
    }
}

fn schedule_reconnect(shared: &Shared) {
    let failures = shared.borrow().failures;
    let delay = Duration::from_millis(500 * u64::from(failures.clamp(1, 10)));
    let weak = Rc::downgrade(shared);
    set_timeout(move || connect(weak), delay);
}

fn receive(weak: &Weak<RefCell<Connected>>, name: &str, message: &MessageEvent) {
    let Some(shared) = weak.upgrade() else { return };
    let Some(data) = message.data().as_string() else { return };
    let Ok(data) = serde_json::from_str::<serde_json::Value>(&data) else { return };
    let Ok(event) = Event::from_parts(name, data) else { return };
    let id = message.last_event_id().parse::<i64>().ok();
    // Handlers run outside the borrow: they may open or close streams.
    let handlers: Vec<Handler> = {
        let mut stream = shared.borrow_mut();
        if id.is_some() {
            stream.last_event_id = id;
        }
        stream.handlers.iter().map(|(_, handler)| handler.clone()).collect()
    };
    for handler in handlers {
        handler(&event);
    }
}

/// The app-wide stream (runs, agents, summary), provided as context by `App`.
#[derive(Debug, Clone, Copy)]
pub struct GlobalStream(pub Stream);

pub fn global() -> Stream {
    expect_context::<GlobalStream>().0
}
