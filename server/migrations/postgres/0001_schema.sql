-- The original system's tables (see the SQLite migrations) in PostgreSQL types,
-- with the dashboard's additions.
CREATE TABLE IF NOT EXISTS workflow_runs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    workflow_name VARCHAR(256) NOT NULL,
    status VARCHAR(32) NOT NULL,
    config_snapshot TEXT,
    inputs TEXT,
    outputs TEXT,
    error_message TEXT,
    started_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    duration_seconds DOUBLE PRECISION,
    total_tokens BIGINT,
    total_cost_usd DOUBLE PRECISION,
    bottleneck_info TEXT,
    restarted_from VARCHAR(36)
);

CREATE TABLE IF NOT EXISTS execution_states (
    id BIGSERIAL PRIMARY KEY,
    run_id VARCHAR(36) NOT NULL REFERENCES workflow_runs (id),
    node_id VARCHAR(128) NOT NULL,
    state_data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS agents (
    agent_id VARCHAR(255) NOT NULL PRIMARY KEY,
    agent_name VARCHAR(256) NOT NULL,
    host VARCHAR(256) NOT NULL,
    port INTEGER NOT NULL,
    last_heartbeat TIMESTAMP NOT NULL,
    ttl_seconds INTEGER NOT NULL DEFAULT 60,
    agent_metadata VARCHAR(4000),
    registered_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_agents_last_heartbeat ON agents (last_heartbeat);

CREATE INDEX IF NOT EXISTS ix_runs_started ON workflow_runs (started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_status_started ON workflow_runs (status, started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_name_started ON workflow_runs (workflow_name, started_at, id);
CREATE INDEX IF NOT EXISTS ix_runs_duration ON workflow_runs ((COALESCE(duration_seconds, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_tokens ON workflow_runs ((COALESCE(total_tokens, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_cost ON workflow_runs ((COALESCE(total_cost_usd, -1)), id);
CREATE INDEX IF NOT EXISTS ix_runs_restarted_from ON workflow_runs (restarted_from);
CREATE INDEX IF NOT EXISTS ix_states_run ON execution_states (run_id, id);

CREATE TABLE run_logs (
    id BIGSERIAL PRIMARY KEY,
    run_id VARCHAR(36) NOT NULL REFERENCES workflow_runs (id),
    ts TIMESTAMP NOT NULL,
    level VARCHAR(16) NOT NULL,
    node_id VARCHAR(128),
    message TEXT NOT NULL
);
CREATE INDEX ix_run_logs_run ON run_logs (run_id, id);

CREATE TABLE dashboard_events (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(32) NOT NULL,
    run_id VARCHAR(36),
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_events_created ON dashboard_events (created_at);
