-- Access control. Tokens keep only the SHA-256 of their secret; browser sessions keep
-- the SHA-256 of theirs; agent tokens own the agent ids they registered first; runs
-- remember who created them; the audit log says who changed what.
CREATE TABLE dashboard_tokens (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(128) NOT NULL UNIQUE,
    role VARCHAR(16) NOT NULL,
    secret_hash VARCHAR(64) NOT NULL UNIQUE,
    agent_ids TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    created_by VARCHAR(128),
    last_used_at DATETIME,
    expires_at DATETIME
);

CREATE TABLE dashboard_sessions (
    id_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    token_id VARCHAR(36) NOT NULL,
    csrf VARCHAR(64) NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX ix_sessions_token ON dashboard_sessions (token_id);

CREATE TABLE dashboard_agent_owners (
    agent_id VARCHAR(255) NOT NULL PRIMARY KEY,
    token_id VARCHAR(36) NOT NULL
);
CREATE INDEX ix_agent_owners_token ON dashboard_agent_owners (token_id);

ALTER TABLE workflow_runs ADD COLUMN created_by VARCHAR(128);
ALTER TABLE workflow_runs ADD COLUMN created_by_token VARCHAR(36);

CREATE TABLE dashboard_audit (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at DATETIME NOT NULL,
    actor VARCHAR(128) NOT NULL,
    action VARCHAR(64) NOT NULL,
    target VARCHAR(255) NOT NULL,
    detail TEXT
);
