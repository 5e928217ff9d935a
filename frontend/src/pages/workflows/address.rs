//! The runs page's address: what it filters by, with the parts that cannot mean
//! anything (an unknown status, a page size not offered, a name no field takes) set
//! aside, so the page opens with them reset and says which were ignored.

use chrono::{DateTime, Utc};
use leptos_router::params::ParamsMap;
use shared::{RunQuery, RunSort, RunStatus};

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

/// The text itself, where `ok` says it may stand.
fn text_if(ok: impl Fn(&str) -> bool) -> impl Fn(&str) -> Option<String> {
    move |v| ok(v).then(|| v.to_owned())
}

/// The query the address asks for, and the `name=value` parts it ignores.
pub fn read(params: &ParamsMap) -> (RunQuery, Vec<String>) {
    let mut ignored = Vec::new();
    let mut keep = |name: &str, read: &dyn Fn(&str) -> Option<String>| kept(params, &mut ignored, name, read);
    let field = text_if(|v| v.chars().count() <= TEXT_MAX && !v.chars().any(char::is_control));
    let mut query = RunQuery {
        status: keep(
            "status",
            &text_if(|v| v.split(',').map(str::trim).all(|s| s.is_empty() || s.parse::<RunStatus>().is_ok())),
        ),
        workflow: keep("workflow", &field),
        range: keep("range", &text_if(|v| matches!(v, "" | "today" | "week" | "all"))),
        q: keep("q", &field),
        sort: keep("sort", &text_if(|v| v.strip_prefix('-').unwrap_or(v).parse::<RunSort>().is_ok())),
        // The server's cursors are URL-safe base64 of a few dozen bytes.
        cursor: keep(
            "cursor",
            &text_if(|v| {
                (1..=1024).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }),
        ),
        ..Default::default()
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
