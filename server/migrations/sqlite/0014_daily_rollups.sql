-- Rollups by UTC day, for hours older than two days: the dashboard moves those hourly
-- rows here (sums, so a day's row plus any hourly rows of it that arrived later is
-- its total), and a month's chart or breakdown reads a few hundred rows, not thousands.
CREATE TABLE dashboard_rollup_runs_daily (
    day TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    agent_id VARCHAR(255) NOT NULL,
    runs INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (day, workflow_name, agent_id)
);
CREATE INDEX ix_rollup_runs_daily_workflow ON dashboard_rollup_runs_daily (workflow_name, day);

CREATE TABLE dashboard_rollup_durations_daily (
    day TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    agent_id VARCHAR(255) NOT NULL,
    bin INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (day, workflow_name, agent_id, bin)
);

CREATE TABLE dashboard_rollup_nodes_daily (
    day TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    node_id VARCHAR(128) NOT NULL,
    model VARCHAR(256) NOT NULL,
    reports INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    PRIMARY KEY (day, workflow_name, node_id, model)
);
