-- Runs the dashboard started on an agent: which agent, at which address, and the
-- agent's job id once it answered async. Null for runs reported by other runners.
ALTER TABLE workflow_runs ADD COLUMN agent_id VARCHAR(255);
ALTER TABLE workflow_runs ADD COLUMN agent_url VARCHAR(512);
ALTER TABLE workflow_runs ADD COLUMN agent_job_id VARCHAR(255);

-- Which dashboard process follows each dispatched run, and each process's lease,
-- renewed while it lives: the runs of a process whose lease lapsed (it crashed) or
-- that gave it up (it stopped) are taken over by another.
ALTER TABLE workflow_runs ADD COLUMN dispatcher_id VARCHAR(36);
CREATE TABLE dashboard_dispatchers (
    id VARCHAR(36) PRIMARY KEY,
    renewed_at DATETIME NOT NULL
);
