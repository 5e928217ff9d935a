//! The runs page's address: what it filters by, with the parts that cannot mean
//! anything (an unknown status, a page size not offered, a name no field takes) set
//! aside, so the page opens with them reset and says which were ignored.

use chrono::{DateTime, Utc};
use leptos_router::params::ParamsMap;
use shared::{RunQuery, Statuses};

/// Rows per page unless the address says otherwise.
pub const PAGE: i64 = 50;
/// Page sizes offered; `limit` in the address keeps the choice.
pub const PAGE_SIZES: [i64; 4] = [25, 50, 100, 200];
/// The longest text a filter field takes (its `maxlength`).
pub const TEXT_MAX: usize = 256;

const KNOWN: [&str; 9] = ["status", "workflow", "range", "since", "until", "q", "sort", "cursor", "limit"];

fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The value of `name` as `read` takes it; a value it cannot take is set aside.
fn kept<T>(params: &ParamsMap, ignored: &mut Vec<String>, name: &str, read: impl Fn(&str) -> Option<T>) -> Option<T> {
    let value = params.get(name)?;
    let taken = read(&value);
    if taken.is_none() {
        ignored.push(format!("{name}={value}"));
    }
    taken
}

/// A query word (`range=7d`): blank is no filter (a form's empty choice), a word the
/// type does not know is set aside.
fn word<T: std::str::FromStr>(params: &ParamsMap, ignored: &mut Vec<String>, name: &str) -> Option<T> {
    params.get(name).filter(|v| !v.trim().is_empty())?;
    kept(params, ignored, name, |v| v.trim().parse().ok())
}

/// The text itself, where `ok` says it may stand.
fn text_if(ok: impl Fn(&str) -> bool) -> impl Fn(&str) -> Option<String> {
    move |v| ok(v).then(|| v.to_owned())
}

/// The query the address asks for, and the `name=value` parts it ignores.
pub fn read(params: &ParamsMap) -> (RunQuery, Vec<String>) {
    let mut ignored = Vec::new();
    let field = text_if(|v| v.chars().count() <= TEXT_MAX && !v.chars().any(char::is_control));
    let mut query = RunQuery {
        status: word(params, &mut ignored, "status").filter(|s: &Statuses| !s.0.is_empty()),
        range: word(params, &mut ignored, "range"),
        sort: word(params, &mut ignored, "sort"),
        ..Default::default()
    };
    let mut keep = |name: &str, read: &dyn Fn(&str) -> Option<String>| kept(params, &mut ignored, name, read);
    query = RunQuery {
        workflow: keep("workflow", &field),
        q: keep("q", &field),
        // The server's cursors are URL-safe base64 of a few dozen bytes.
        cursor: keep(
            "cursor",
            &text_if(|v| {
                (1..=1024).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }),
        ),
        ..query
    };
    query.since = kept(params, &mut ignored, "since", time);
    query.until = kept(params, &mut ignored, "until", time);
    let size = kept(params, &mut ignored, "limit", |v| v.parse().ok().filter(|l| PAGE_SIZES.contains(l)));
    query.limit = Some(size.unwrap_or(PAGE));
    for (name, value) in params.into_iter() {
        if !KNOWN.contains(&name.as_ref()) {
            ignored.push(format!("{name}={value}"));
        }
    }
    (query, ignored)
}
