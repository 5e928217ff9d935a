-- Saved views of the runs list: a name for a query (filters and sort), its owner's,
-- shared with everyone or not; at most one of an owner's views is their default.
CREATE TABLE dashboard_views (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    owner VARCHAR(256) NOT NULL,
    shared BOOLEAN NOT NULL,
    is_default BOOLEAN NOT NULL,
    query VARCHAR(2048) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_views_owner ON dashboard_views (owner);
