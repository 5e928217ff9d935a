//! Exports of the runs list: every run the filters select, in the list's order, as
//! CSV that spreadsheets read as text, or JSON lines; streamed, so a client that leaves
//! midway costs nothing afterwards.

use futures_util::StreamExt;
use reqwest::StatusCode;
use shared::{RunStatus, WorkflowRun};

use crate::helpers::TestApp;

crate::on_both_databases!(exports_hold_every_selected_run_in_order, exports_are_checked_and_can_be_left);

const RUNS: usize = 2345;
const HOSTILE: &str = "=HYPERLINK(\"http://x\"), \"quoted\"\nnext line";

/// `RUNS` runs as another writer stores them, over statuses and costs, one with a
/// name a spreadsheet would run as a formula.
async fn write_runs(app: &TestApp) {
    let now = chrono::Utc::now();
    let rows: Vec<String> = (0..RUNS)
        .map(|i| {
            let name = if i == 7 { HOSTILE.replace('\'', "''") } else { format!("w{}", i % 4) };
            let status = ["completed", "failed", "running"][i % 3];
            let at = (now - chrono::TimeDelta::seconds(i as i64)).naive_utc().format("%Y-%m-%d %H:%M:%S%.6f");
            format!(
                "('00000000-0000-4000-8000-{i:012}', '{name}', '{status}', '{at}', {}, {})",
                i * 3 % 1000,
                // One as sums of reports end up: 0.30000000000000004.
                if i == 3 { 0.1 + 0.2 } else { (i % 97) as f64 / 10.0 }
            )
        })
        .collect();
    app.db
        .execute_as_another_writer(&format!(
            "INSERT INTO workflow_runs (id, workflow_name, status, started_at, total_tokens, total_cost_usd) VALUES {}",
            rows.join(", ")
        ))
        .await;
}

/// RFC 4180 records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

async fn exports_hold_every_selected_run_in_order(app: TestApp) {
    write_runs(&app).await;
    let response = reqwest::get(app.api.url("/api/workflows/export.csv")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("runs.csv"));
    let records = parse_csv(&response.text().await.unwrap());
    assert_eq!(records[0][..3], ["id", "workflow_name", "status"]);
    assert_eq!(records.len(), RUNS + 1);
    // Newest first, as the list; the hostile name comes back as text.
    assert_eq!(records[1][0], "00000000-0000-4000-8000-000000000000");
    assert_eq!(records[8][1], format!("'{HOSTILE}"));
    assert!(records.iter().all(|r| r.len() == 10));
    // Times as the JSON lines export writes them; costs without float noise.
    let first_line = reqwest::get(app.api.url("/api/workflows/export.jsonl")).await.unwrap().text().await.unwrap();
    let first: serde_json::Value = serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
    assert_eq!(records[1][3], first["started_at"].as_str().unwrap());
    assert_eq!((records[4][0].as_str(), records[4][7].as_str()), ("00000000-0000-4000-8000-000000000003", "0.3"));

    // JSON lines, filtered and sorted: the same runs as the list pages in the same order.
    let query = "status=failed&sort=-total_cost_usd";
    let lines = reqwest::get(app.api.url(&format!("/api/workflows/export.jsonl?{query}"))).await.unwrap();
    assert_eq!(lines.headers()["content-type"], "application/x-ndjson");
    let exported: Vec<WorkflowRun> =
        lines.text().await.unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(exported.len(), RUNS / 3 + usize::from(RUNS % 3 > 1));
    assert!(exported.iter().all(|r| r.status == RunStatus::Failed));
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page: shared::RunPage = app.fetch(&format!("/api/workflows?{query}&limit=500{after}")).await;
        listed.extend(page.runs);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(exported, listed);
}

async fn exports_are_checked_and_can_be_left(app: TestApp) {
    for (path, says) in [
        ("/api/workflows/export.csv?limit=10", "not `limit`"),
        ("/api/workflows/export.jsonl?cursor=abc", "not `limit` or `cursor`"),
        ("/api/workflows/export.csv?status=exploded", "unknown status"),
        ("/api/workflows/export.csv?colour=red", "colour"),
        ("/api/workflows/export.csv?q=a%00b", "NUL"),
    ] {
        let (status, body) = app.get(path).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(body.to_string().contains(says), "{path}: {body}");
    }
    write_runs(&app).await;
    // Clients that read a little and leave.
    for _ in 0..20 {
        let response = reqwest::get(app.api.url("/api/workflows/export.jsonl")).await.unwrap();
        let mut body = response.bytes_stream();
        let first = body.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
    }
    let summary: shared::Summary = app.fetch("/api/summary").await;
    assert_eq!(summary.total_workflows, RUNS as i64);
    let all = reqwest::get(app.api.url("/api/workflows/export.jsonl")).await.unwrap().text().await.unwrap();
    assert_eq!(all.lines().count(), RUNS);
}
