-- Budgets per workflow (see the SQLite migration of the same number).
CREATE TABLE dashboard_budgets (
    workflow_name VARCHAR(256) NOT NULL PRIMARY KEY,
    daily_usd DOUBLE PRECISION,
    monthly_usd DOUBLE PRECISION,
    run_max_usd DOUBLE PRECISION,
    run_max_tokens BIGINT,
    updated_at TIMESTAMP NOT NULL,
    updated_by VARCHAR(256) NOT NULL
);

CREATE INDEX ix_rollup_runs_workflow ON dashboard_rollup_runs (workflow_name, hour);
