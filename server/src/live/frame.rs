//! SSE frames, made once per event and shared by every stream that sends it.

use axum::body::Bytes;
use shared::Event;

/// One SSE frame: `id:` (persisted events), `event:` the event's name, `data:` its
/// JSON. A `Bytes` so that every stream sending it shares one copy.
pub fn frame(id: Option<i64>, event: &Event) -> Bytes {
    let data = event.data().to_string();
    let mut frame = String::with_capacity(data.len() + 48);
    if let Some(id) = id {
        frame.push_str(&format!("id: {id}\n"));
    }
    frame.push_str("event: ");
    frame.push_str(event.name());
    frame.push('\n');
    // Compact JSON has no line breaks; were one there, each line needs its own field.
    for line in data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_names_its_event_and_id() {
        let frame = frame(Some(7), &Event::Ready { last_event_id: 7 });
        assert_eq!(&frame[..], b"id: 7\nevent: ready\ndata: {\"last_event_id\":7}\n\n");
    }
}
