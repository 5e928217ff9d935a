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

/// The query the address asks for, and the `name=value` parts it ignores.
pub fn read(params: &ParamsMap) -> (RunQuery, Vec<String>) {
    let mut ignored = Vec::new();
    let mut keep = |name: &str, valid: &dyn Fn(&str) -> bool| {
        let value = params.get(name)?;
        if valid(&value) {
            return Some(value);
        }
        ignored.push(format!("{name}={value}"));
        None
    };
    let text = |v: &str| v.chars().count() <= TEXT_MAX && !v.chars().any(char::is_control);
    let query = RunQuery {
        status: keep("status", &|v| {
            v.split(',').map(str::trim).all(|s| s.is_empty() || s.parse::<RunStatus>().is_ok())
        }),
        workflow: keep("workflow", &text),
        range: keep("range", &|v| matches!(v, "" | "today" | "week" | "all")),
        since: keep("since", &|v| time(v).is_some()).and_then(|v| time(&v)),
        until: keep("until", &|v| time(v).is_some()).and_then(|v| time(&v)),
        q: keep("q", &text),
        sort: keep("sort", &|v| v.strip_prefix('-').unwrap_or(v).parse::<RunSort>().is_ok()),
        // The server's cursors are URL-safe base64 of a few dozen bytes.
        cursor: keep("cursor", &|v| {
            (1..=1024).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }),
        limit: Some(
            keep("limit", &|v| v.parse().is_ok_and(|l| PAGE_SIZES.contains(&l)))
                .and_then(|l| l.parse().ok())
                .unwrap_or(PAGE),
        ),
        ..Default::default()
    };
    for (name, value) in params.into_iter() {
        if !KNOWN.contains(&name.as_ref()) {
            ignored.push(format!("{name}={value}"));
        }
    }
    (query, ignored)
}
