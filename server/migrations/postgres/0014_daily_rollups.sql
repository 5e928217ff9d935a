-- Rollups by UTC day, for hours older than two days: the dashboard moves those hourly
-- rows here (sums, so a day's row plus any hourly rows of it that arrived later is
-- its total), and a month's chart or breakdown reads a few hundred rows, not thousands.
CREATE TABLE dashboard_rollup_runs_daily (
    day TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    runs BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    cancelled BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL,
    PRIMARY KEY (day, workflow_name, agent_id)
);
CREATE INDEX ix_rollup_runs_daily_workflow ON dashboard_rollup_runs_daily (workflow_name, day);

CREATE TABLE dashboard_rollup_durations_daily (
    day TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    bin INTEGER NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (day, workflow_name, agent_id, bin)
);

CREATE TABLE dashboard_rollup_nodes_daily (
    day TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    node_id TEXT NOT NULL,
    model TEXT NOT NULL,
    reports BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, workflow_name, node_id, model)
);
