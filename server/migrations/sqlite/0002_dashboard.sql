-- The dashboard's additions: new tables and new nullable columns only, so the
-- original code keeps working on the same file.
ALTER TABLE workflow_runs ADD COLUMN restarted_from VARCHAR(36);

-- Every list, filter and sort walks one of these instead of the table.
CREATE INDEX IF NOT EXISTS ix_runs_started ON workflow_runs (started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_status_started ON workflow_runs (status, started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_name_started ON workflow_runs (workflow_name, started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_duration ON workflow_runs (COALESCE(duration_seconds, -1), id);
CREATE INDEX IF NOT EXISTS ix_runs_tokens ON workflow_runs (COALESCE(total_tokens, -1), id);
CREATE INDEX IF NOT EXISTS ix_runs_cost ON workflow_runs (COALESCE(total_cost_usd, -1), id);
CREATE INDEX IF NOT EXISTS ix_runs_restarted_from ON workflow_runs (restarted_from);
CREATE INDEX IF NOT EXISTS ix_states_run ON execution_states (run_id, id);

CREATE TABLE run_logs (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(36) NOT NULL REFERENCES workflow_runs (id),
    ts DATETIME NOT NULL,
    level VARCHAR(16) NOT NULL,
    node_id VARCHAR(128),
    message TEXT NOT NULL
);
CREATE INDEX ix_run_logs_run ON run_logs (run_id, id);

-- Append-only log of live events; its ids are the SSE event ids.
-- AUTOINCREMENT: ids are never reused, even after pruning.
CREATE TABLE dashboard_events (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind VARCHAR(32) NOT NULL,
    run_id VARCHAR(36),
    payload TEXT NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_events_created ON dashboard_events (created_at);
