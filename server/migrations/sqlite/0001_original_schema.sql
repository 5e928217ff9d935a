-- The tables of the original Python system, exactly as its storage layer creates them.
-- IF NOT EXISTS: a database written by the original opens as it is.
CREATE TABLE IF NOT EXISTS workflow_runs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    workflow_name VARCHAR(256) NOT NULL,
    status VARCHAR(32) NOT NULL,
    config_snapshot TEXT,
    inputs TEXT,
    outputs TEXT,
    error_message TEXT,
    started_at DATETIME NOT NULL,
    completed_at DATETIME,
    duration_seconds FLOAT,
    total_tokens INTEGER,
    total_cost_usd FLOAT,
    bottleneck_info TEXT
);

CREATE TABLE IF NOT EXISTS execution_states (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(36) NOT NULL REFERENCES workflow_runs (id),
    node_id VARCHAR(128) NOT NULL,
    state_data TEXT NOT NULL,
    created_at DATETIME NOT NULL
);

CREATE TABLE IF NOT EXISTS agents (
    agent_id VARCHAR(255) NOT NULL PRIMARY KEY,
    agent_name VARCHAR(256) NOT NULL,
    host VARCHAR(256) NOT NULL,
    port INTEGER NOT NULL,
    last_heartbeat DATETIME NOT NULL,
    ttl_seconds INTEGER NOT NULL DEFAULT 60,
    agent_metadata VARCHAR(4000),
    registered_at DATETIME NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_agents_last_heartbeat ON agents (last_heartbeat);
