-- The runs page filtered by workflow and status (its most used filter pair): rows come
-- straight from this index in page order, instead of one status's rows checked one
-- by one for the workflow.
CREATE INDEX IF NOT EXISTS ix_runs_name_status_started ON workflow_runs (workflow_name, status, started_at, id);
