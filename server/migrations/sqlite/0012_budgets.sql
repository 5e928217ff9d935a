-- Budgets per workflow: caps on what it may spend per UTC day and month (the cost of
-- the runs that started in the period), and on what one run may spend. Null: no cap.
CREATE TABLE dashboard_budgets (
    workflow_name VARCHAR(256) NOT NULL PRIMARY KEY,
    daily_usd FLOAT,
    monthly_usd FLOAT,
    run_max_usd FLOAT,
    run_max_tokens INTEGER,
    updated_at DATETIME NOT NULL,
    updated_by VARCHAR(256) NOT NULL
);

-- A workflow's spend in a period, read at each report of a run under a budget.
CREATE INDEX ix_rollup_runs_workflow ON dashboard_rollup_runs (workflow_name, hour);
