-- An agent's page lists the runs sent to it, newest first, in keyset pages.
CREATE INDEX IF NOT EXISTS idx_workflow_runs_agent_started ON workflow_runs (agent_id, started_at, id);
