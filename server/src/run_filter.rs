//! A runs query (the list's, a bulk job's) → a validated `RunFilter`, and the opaque
//! keyset cursor of its pages.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{given, RunOrder, RunQuery, RunSort, WorkflowRun};

use crate::store::{RunFilter, SortKey, Ts};
use crate::validate::{self, Invalid};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// What a cursor holds: the sort it belongs to and the last row's position in it.
#[derive(Serialize, Deserialize)]
struct Cursor {
    sort: RunSort,
    desc: bool,
    key: SortKey,
    id: String,
}

pub fn parse(query: &RunQuery, now: DateTime<Utc>) -> Result<RunFilter, Invalid> {
    let statuses = query.statuses().to_vec();
    let (since, until) = query.window(now).map_err(Invalid::value)?;
    let RunOrder { by: sort, descending } = query.sort.unwrap_or_default();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Invalid::value(format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    let after = given(&query.cursor).map(|text| decode(text, sort, descending)).transpose()?;
    let text = query.text().map(str::to_owned);
    if let Some(text) = &text {
        validate::text("q", text, 256)?;
    }
    let workflow = query.workflow_name().map(str::to_owned);
    if let Some(workflow) = &workflow {
        validate::text("workflow", workflow, 256)?;
    }
    let agent = given(&query.agent).map(str::to_owned);
    if let Some(agent) = &agent {
        validate::name("agent", agent, 255)?;
    }
    Ok(RunFilter {
        statuses,
        workflow,
        agent,
        since: since.map(Ts::from),
        until: until.map(Ts::from),
        text,
        sort,
        descending,
        after,
        limit,
    })
}

pub fn encode(last: &WorkflowRun, filter: &RunFilter) -> String {
    let cursor =
        Cursor { sort: filter.sort, desc: filter.descending, key: SortKey::of(last, filter.sort), id: last.id.clone() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode(text: &str, sort: RunSort, descending: bool) -> Result<(SortKey, String), Invalid> {
    let malformed = || Invalid::value("`cursor` is malformed; use the `next_cursor` of a previous page");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if cursor.sort != sort || cursor.desc != descending {
        return Err(Invalid::value("`cursor` belongs to a different sort order"));
    }
    if cursor.id.contains('\0') {
        return Err(malformed());
    }
    // Numbers come back from JSON as whichever variant fits; align them with the column.
    let key = match (sort, cursor.key) {
        (RunSort::StartedAt, key @ SortKey::Time(_)) => key,
        (RunSort::TotalTokens, SortKey::Int(v)) => SortKey::Int(v),
        (RunSort::DurationSeconds | RunSort::TotalCostUsd, SortKey::Float(v)) => SortKey::Float(v),
        (RunSort::DurationSeconds | RunSort::TotalCostUsd, SortKey::Int(v)) => SortKey::Float(v as f64),
        _ => return Err(malformed()),
    };
    Ok((key, cursor.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::RunStatus;

    /// `a=1&b=x` as axum's Query would deserialize it (numbers as numbers).
    fn query(pairs: &str) -> RunQuery {
        read(pairs).unwrap()
    }

    fn read(pairs: &str) -> Result<RunQuery, serde_json::Error> {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                let value = v.parse::<i64>().map(serde_json::Value::from).unwrap_or_else(|_| v.into());
                (k.to_owned(), value)
            })
            .collect();
        serde_json::from_value(map.into())
    }

    #[test]
    fn defaults_to_newest_first() {
        let filter = parse(&query(""), Utc::now()).unwrap();
        assert_eq!((filter.sort, filter.descending, filter.limit), (RunSort::StartedAt, true, DEFAULT_LIMIT));
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        // Words the query's types do not know are refused as it is read.
        for unknown in ["status=done", "range=month", "sort=name"] {
            assert!(read(unknown).is_err(), "{unknown}");
        }
        for bad in ["limit=0", "limit=501", "cursor=abc", "range=today&since=2026-01-01T00:00:00Z"] {
            assert!(parse(&query(bad), Utc::now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_round_trips_and_is_tied_to_its_sort() {
        let filter = parse(&query("sort=-total_cost_usd"), Utc::now()).unwrap();
        let run = WorkflowRun {
            total_cost_usd: Some(2.0),
            ..WorkflowRun::new("5b0c8b9e-0000-4000-8000-000000000000", "w", RunStatus::Completed, Utc::now())
        };
        let cursor = encode(&run, &filter);
        assert_eq!(decode(&cursor, RunSort::TotalCostUsd, true).unwrap(), (SortKey::Float(2.0), run.id.clone()));
        assert!(decode(&cursor, RunSort::StartedAt, true).is_err());
    }
}
