-- The runs page filtered by status or workflow and sorted by a number (the costliest
-- failed runs, one workflow's slowest): rows come in page order from one of these,
-- instead of every matching row being sorted (up to 3 s at a million runs, depending
-- on which index the planner guessed).
CREATE INDEX IF NOT EXISTS ix_runs_status_tokens ON workflow_runs (status, (COALESCE(total_tokens, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_status_cost ON workflow_runs (status, (COALESCE(total_cost_usd, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_status_duration ON workflow_runs (status, (COALESCE(duration_seconds, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_name_tokens ON workflow_runs (workflow_name, (COALESCE(total_tokens, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_name_cost ON workflow_runs (workflow_name, (COALESCE(total_cost_usd, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_name_duration ON workflow_runs (workflow_name, (COALESCE(duration_seconds, -1)), id);
