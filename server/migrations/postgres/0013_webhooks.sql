-- Outgoing webhooks: where alerts go, which alerts, the secret that signs them (kept
-- to sign, shown once), and how the last delivery went.
CREATE TABLE dashboard_webhooks (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    url VARCHAR(2048) NOT NULL,
    events VARCHAR(512) NOT NULL,
    secret VARCHAR(128) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR(256) NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    delivered BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0
);
