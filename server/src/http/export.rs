//! `GET /api/workflows/export.csv` and `export.jsonl`: every run the list's filters and
//! sort select, streamed a page at a time, so a million rows never sit in memory and a
//! client that leaves stops the reads.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::{stream, StreamExt};
use shared::{given, RunQuery, WorkflowRun};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Query};
use super::AppState;
use crate::run_filter;
use crate::store::{RunFilter, SortKey, Store};

/// Runs read per query while streaming.
const PAGE: i64 = 1000;

const CSV_HEADER: &str = "id,workflow_name,status,started_at,completed_at,duration_seconds,total_tokens,\
                          total_cost_usd,error_message,restarted_from\n";

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    JsonLines,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(csv)).routes(routes!(json_lines))
}

/// Every run the list's filters select, in its sort, as CSV (streamed).
#[utoipa::path(get, path = "/workflows/export.csv", tag = "runs", security(("token" = ["read"])), params(RunQuery),
    responses((status = OK, content_type = "text/csv", body = String)))]
async fn csv(State(state): State<AppState>, Query(query): Query<RunQuery>) -> Result<Response, ApiError> {
    export(state, query, Format::Csv)
}

/// Every run the list's filters select, in its sort, one JSON object per line (streamed).
#[utoipa::path(get, path = "/workflows/export.jsonl", tag = "runs", security(("token" = ["read"])), params(RunQuery),
    responses((status = OK, content_type = "application/x-ndjson", body = String)))]
async fn json_lines(State(state): State<AppState>, Query(query): Query<RunQuery>) -> Result<Response, ApiError> {
    export(state, query, Format::JsonLines)
}

fn export(state: AppState, query: RunQuery, format: Format) -> Result<Response, ApiError> {
    if given(&query.cursor).is_some() || query.limit.is_some() {
        return Err(ApiError::invalid("an export takes the list's filters and sort, not `limit` or `cursor`"));
    }
    let mut filter = run_filter::parse(&query, chrono::Utc::now())?;
    filter.limit = PAGE;
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "runs.csv"),
        Format::JsonLines => ("application/x-ndjson", "runs.jsonl"),
    };
    let header_line = (format == Format::Csv).then(|| Ok(Bytes::from_static(CSV_HEADER.as_bytes())));
    let pages = stream::unfold(Some((state.services.store.clone(), filter)), move |next| async move {
        let (store, filter) = next?;
        Some(page(store, filter, format).await)
    });
    let body = stream::iter(header_line).chain(pages);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

type Next = Option<(Arc<dyn Store>, RunFilter)>;

/// One page's bytes, and where the next page starts (none after the last). A failed
/// read ends the stream with an error, which cuts the response short: a client sees
/// an incomplete download, never a silently short file.
async fn page(store: Arc<dyn Store>, mut filter: RunFilter, format: Format) -> (Result<Bytes, std::io::Error>, Next) {
    let runs = match store.list_runs(&filter).await {
        Ok(runs) => runs,
        Err(error) => return (Err(std::io::Error::other(error.to_string())), None),
    };
    let mut text = String::with_capacity(runs.len() * 160);
    for run in &runs {
        match format {
            Format::Csv => csv_row(&mut text, run),
            Format::JsonLines => {
                text.push_str(&serde_json::to_string(run).unwrap_or_default());
                text.push('\n');
            }
        }
    }
    let next = match runs.last() {
        Some(last) if runs.len() as i64 == filter.limit => {
            filter.after = Some((SortKey::of(last, filter.sort), last.id.clone()));
            Some((store, filter))
        }
        _ => None,
    };
    (Ok(Bytes::from(text)), next)
}

fn csv_row(out: &mut String, run: &WorkflowRun) {
    let fields = [
        csv_text(&run.id),
        csv_text(&run.workflow_name),
        run.status.as_str().to_owned(),
        time(run.started_at),
        run.completed_at.map(time).unwrap_or_default(),
        run.duration_seconds.map(|v| decimal(v, 6)).unwrap_or_default(),
        run.total_tokens.map(|v| v.to_string()).unwrap_or_default(),
        run.total_cost_usd.map(|v| decimal(v, 10)).unwrap_or_default(),
        run.error_message.as_deref().map(csv_text).unwrap_or_default(),
        run.restarted_from.as_deref().map(csv_text).unwrap_or_default(),
    ];
    out.push_str(&fields.join(","));
    out.push('\n');
}

/// A time as the JSON lines export writes it (`2026-02-03T12:34:56.123456Z`).
fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A sum of floating-point reports to `places` decimals, without trailing zeros: a
/// spreadsheet reads `0.00103395`, not `0.0010339499999999998`.
fn decimal(value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        false => text,
    }
}

/// A text field as RFC 4180 quotes it; text a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'` so it stays text.
fn csv_text(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_numbers_have_no_float_noise() {
        assert_eq!(decimal(0.0010339499999999998, 10), "0.00103395");
        assert_eq!(decimal(2.0, 6), "2");
        assert_eq!(decimal(0.0, 10), "0");
        assert_eq!(decimal(12.5, 6), "12.5");
    }

    #[test]
    fn csv_text_is_quoted_and_never_a_formula() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\"\nthen"), "\"say \"\"hi\"\"\nthen\"");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_text("-1"), "'-1");
    }
}
