-- Bulk actions on many runs. A job works through its selection in batches from
-- `position` on; `worker` is the dashboard process doing it (by its dispatch lease),
-- so that another process resumes a job whose process is gone.
CREATE TABLE dashboard_bulk_jobs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    action VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    -- JSON: {"ids": [...]} or {"filter": {...}}.
    selection TEXT NOT NULL,
    position TEXT,
    worker VARCHAR(64),
    created_by VARCHAR(256) NOT NULL,
    created_by_token VARCHAR(36),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    matched BIGINT NOT NULL,
    eligible BIGINT NOT NULL,
    done_count BIGINT NOT NULL DEFAULT 0,
    skipped_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    -- JSON: {"skip_reasons": {reason: count}, "failures": [{"run_id", "reason"}]}.
    detail TEXT NOT NULL
);
CREATE INDEX ix_bulk_jobs_status ON dashboard_bulk_jobs (status);
CREATE INDEX ix_bulk_jobs_created ON dashboard_bulk_jobs (created_at);
