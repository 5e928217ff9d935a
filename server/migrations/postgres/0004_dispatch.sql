-- Runs the dashboard started on an agent: which agent, at which address, and the
-- agent's job id once it answered async. Null for runs reported by other runners.
ALTER TABLE workflow_runs ADD COLUMN agent_id VARCHAR(255);
ALTER TABLE workflow_runs ADD COLUMN agent_url VARCHAR(512);
ALTER TABLE workflow_runs ADD COLUMN agent_job_id VARCHAR(255);
