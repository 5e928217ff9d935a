//! Live data: EventSource connections to `/api/events`, with an honest status.
//!
//! The browser reconnects an EventSource by itself after a network error and sends
//! `Last-Event-ID`, but gives up for good when a reconnect gets an HTTP error (a proxy's
//! 502 while the server restarts). Then we open a new one, passing the last id we saw
//! as `?last_event_id=`, so the server replays what we missed. Connections and their
//! handlers live in a thread-local table (the browser is single-threaded); components
//! hold only a `Copy` handle and close it on cleanup.

use leptos::prelude::*;
use shared::Event;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
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
    status: RwSignal<Connection>,
    // Kept alive as long as the EventSource may call them.
    _callbacks: Vec<Closure<dyn FnMut(MessageEvent)>>,
}

thread_local! {
    static STREAMS: RefCell<HashMap<u64, Connected>> = RefCell::new(HashMap::new());
    static NEXT_KEY: RefCell<u64> = const { RefCell::new(1) };
}

fn next_key() -> u64 {
    NEXT_KEY.with(|key| {
        let mut key = key.borrow_mut();
        *key += 1;
        *key
    })
}

/// A handle to one live stream.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    key: u64,
    pub status: RwSignal<Connection>,
}

impl Stream {
    /// Opens a stream of `topics` (comma-separated), optionally for one run.
    pub fn open(topics: &str, run: Option<String>) -> Stream {
        let stream = Stream { key: next_key(), status: RwSignal::new(Connection::Connecting) };
        STREAMS.with(|streams| {
            streams.borrow_mut().insert(
                stream.key,
                Connected {
                    topics: topics.to_owned(),
                    run,
                    source: None,
                    last_event_id: None,
                    failures: 0,
                    handlers: Vec::new(),
                    status: stream.status,
                    _callbacks: Vec::new(),
                },
            )
        });
        connect(stream.key);
        stream
    }

    /// Calls `handler` with every event of this stream until the current component is
    /// cleaned up.
    pub fn on_event(self, handler: impl Fn(&Event) + 'static) {
        let id = next_key();
        STREAMS.with(|streams| {
            if let Some(stream) = streams.borrow_mut().get_mut(&self.key) {
                stream.handlers.push((id, Rc::new(handler)));
            }
        });
        on_cleanup(move || {
            STREAMS.with(|streams| {
                if let Some(stream) = streams.borrow_mut().get_mut(&self.key) {
                    stream.handlers.retain(|(handler, _)| *handler != id);
                }
            })
        });
    }

    pub fn close(self) {
        if let Some(stream) = STREAMS.with(|streams| streams.borrow_mut().remove(&self.key)) {
            if let Some(source) = stream.source {
                source.close();
            }
        }
    }
}

fn connect(key: u64) {
    let Some(url) = STREAMS
        .with(|streams| streams.borrow().get(&key).map(|s| api::events(&s.topics, s.run.as_deref(), s.last_event_id)))
    else {
        return;
    };
    let Ok(source) = EventSource::new(&url) else {
        schedule_reconnect(key);
        return;
    };
    let mut callbacks: Vec<Closure<dyn FnMut(MessageEvent)>> = Vec::new();
    for name in Event::NAMES {
        let callback =
            Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| receive(key, name, &message));
        let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        callbacks.push(callback);
    }
    let on_open = Closure::<dyn FnMut(MessageEvent)>::new(move |_| {
        update(key, |stream| {
            stream.failures = 0;
            stream.status.set(Connection::Live);
        })
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    callbacks.push(on_open);
    let on_error = Closure::<dyn FnMut(MessageEvent)>::new(move |_| failed(key));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    callbacks.push(on_error);
    update(key, |stream| {
        if let Some(old) = stream.source.replace(source) {
            old.close();
        }
        stream._callbacks = callbacks;
    });
}

fn update(key: u64, change: impl FnOnce(&mut Connected)) {
    STREAMS.with(|streams| {
        if let Some(stream) = streams.borrow_mut().get_mut(&key) {
            change(stream);
        }
    });
}

fn browser_online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

fn failed(key: u64) {
    let mut gave_up = false;
    update(key, |stream| {
        stream.failures += 1;
        let offline = !browser_online() || stream.failures >= OFFLINE_AFTER;
        stream.status.set(if offline { Connection::Offline } else { Connection::Reconnecting });
        gave_up = stream.source.as_ref().is_some_and(|s| s.ready_state() == EventSource::CLOSED);
    });
    if gave_up {
        // An EventSource does not say why it gave up: if the session ended (signed out
        // elsewhere, token revoked), this answers 401 and the app asks to sign in.
        leptos::task::spawn_local(async {
            let _ = api::session().await;
        });
        schedule_reconnect(key);
    }
}

fn schedule_reconnect(key: u64) {
    let failures = STREAMS.with(|streams| streams.borrow().get(&key).map(|s| s.failures)).unwrap_or(0);
    let delay = Duration::from_millis(500 * u64::from(failures.clamp(1, 10)));
    set_timeout(move || connect(key), delay);
}

fn receive(key: u64, name: &str, message: &MessageEvent) {
    let Some(data) = message.data().as_string() else { return };
    let Ok(data) = serde_json::from_str::<serde_json::Value>(&data) else { return };
    let Ok(event) = Event::from_parts(name, data) else {
        return;
    };
    let id = message.last_event_id().parse::<i64>().ok();
    // Handlers run outside the table's borrow: they may open or close streams.
    let handlers: Vec<Handler> = STREAMS.with(|streams| {
        let mut streams = streams.borrow_mut();
        let Some(stream) = streams.get_mut(&key) else { return Vec::new() };
        if id.is_some() {
            stream.last_event_id = id;
        }
        stream.handlers.iter().map(|(_, handler)| handler.clone()).collect()
    });
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
