-- Rollups for analytics: per hour of start (UTC), workflow and agent, what runs did and
-- cost; per hour, workflow, node and model, what node reports cost. Kept by triggers,
-- as the status totals are, so rows any writer stores count, and a chart over a month
-- reads a few thousand rollup rows instead of every run.
--
-- Amounts outside the dashboard's own bounds (limits.rs) count as zero, so a value
-- another writer stored can neither overflow a sum nor make it NaN. Rows whose start
-- time SQLite cannot read are left out of the rollups.

-- Duration bins, for percentiles: bin 0 holds durations under 10 ms, bin k >= 1 those
-- from 0.01 * 1.15^(k-1) s up to 1.15 times that; the last starts at about 64 days. A
-- percentile read as the middle of its bin (geometrically) is within 7 % of the truth.
CREATE TABLE dashboard_duration_bins (
    bin INTEGER NOT NULL PRIMARY KEY,
    lower_seconds REAL NOT NULL UNIQUE,
    upper_seconds REAL NOT NULL
);
WITH RECURSIVE bins (bin, lower_seconds) AS (
    SELECT 1, 0.01 UNION ALL SELECT bin + 1, lower_seconds * 1.15 FROM bins WHERE bin < 145
)
INSERT INTO dashboard_duration_bins (bin, lower_seconds, upper_seconds)
SELECT 0, 0.0, 0.01 UNION ALL SELECT bin, lower_seconds, lower_seconds * 1.15 FROM bins;

CREATE TABLE dashboard_rollup_runs (
    hour TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    -- '' for runs the dashboard did not send to an agent (another runner's).
    agent_id VARCHAR(255) NOT NULL,
    runs INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (hour, workflow_name, agent_id)
);

-- Finished runs with a duration, per bin.
CREATE TABLE dashboard_rollup_durations (
    hour TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    agent_id VARCHAR(255) NOT NULL,
    bin INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (hour, workflow_name, agent_id, bin)
);

-- Node reports, per hour of report. `model` is '' when the report names none.
CREATE TABLE dashboard_rollup_nodes (
    hour TEXT NOT NULL,
    workflow_name VARCHAR(256) NOT NULL,
    node_id VARCHAR(128) NOT NULL,
    model VARCHAR(256) NOT NULL,
    reports INTEGER NOT NULL,
    -- Reports that carry a duration (a node's end), for its mean.
    timed INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    PRIMARY KEY (hour, workflow_name, node_id, model)
);

-- A run's part of the rollups: one view keeps the bounds and the bucketing in one place.
CREATE VIEW dashboard_run_contribution AS
SELECT id,
    strftime('%Y-%m-%d %H:00:00', started_at) || '.000000' AS hour,
    workflow_name,
    COALESCE(agent_id, '') AS agent_id,
    status = 'completed' AS completed,
    status = 'failed' AS failed,
    status = 'cancelled' AS cancelled,
    CASE WHEN total_cost_usd BETWEEN 0 AND 1e9 THEN total_cost_usd ELSE 0.0 END AS cost_usd,
    CASE WHEN total_tokens BETWEEN 0 AND 1000000000000 THEN CAST(total_tokens AS INTEGER) ELSE 0 END AS tokens,
    CASE WHEN status IN ('completed', 'failed', 'cancelled') AND duration_seconds BETWEEN 0 AND 1e9 THEN
        COALESCE((SELECT bin FROM dashboard_duration_bins b WHERE b.lower_seconds <= duration_seconds
                  ORDER BY b.lower_seconds DESC LIMIT 1), 0)
    END AS bin
FROM workflow_runs;

INSERT INTO dashboard_rollup_runs
SELECT hour, workflow_name, agent_id, COUNT(*), SUM(completed), SUM(failed), SUM(cancelled), SUM(cost_usd), SUM(tokens)
FROM dashboard_run_contribution WHERE hour IS NOT NULL GROUP BY hour, workflow_name, agent_id;

INSERT INTO dashboard_rollup_durations
SELECT hour, workflow_name, agent_id, bin, COUNT(*)
FROM dashboard_run_contribution WHERE hour IS NOT NULL AND bin IS NOT NULL GROUP BY hour, workflow_name, agent_id, bin;

-- Each change adds the row's part with +1, or takes it off with -1 (the same upsert:
-- the row it takes from is there). The old part goes before the row changes.
CREATE TRIGGER dashboard_rollup_run_insert AFTER INSERT ON workflow_runs BEGIN
    INSERT INTO dashboard_rollup_runs
    SELECT hour, workflow_name, agent_id, 1, completed, failed, cancelled, cost_usd, tokens
    FROM dashboard_run_contribution WHERE id = NEW.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        completed = completed + excluded.completed, failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled, cost_usd = cost_usd + excluded.cost_usd,
        tokens = tokens + excluded.tokens;
    INSERT INTO dashboard_rollup_durations
    SELECT hour, workflow_name, agent_id, bin, 1
    FROM dashboard_run_contribution WHERE id = NEW.id AND hour IS NOT NULL AND bin IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id, bin) DO UPDATE SET runs = runs + excluded.runs;
END;

CREATE TRIGGER dashboard_rollup_run_leave BEFORE UPDATE OF
    started_at, workflow_name, agent_id, status, total_cost_usd, total_tokens, duration_seconds ON workflow_runs BEGIN
    INSERT INTO dashboard_rollup_runs
    SELECT hour, workflow_name, agent_id, -1, -completed, -failed, -cancelled, -cost_usd, -tokens
    FROM dashboard_run_contribution WHERE id = OLD.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        completed = completed + excluded.completed, failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled, cost_usd = cost_usd + excluded.cost_usd,
        tokens = tokens + excluded.tokens;
    INSERT INTO dashboard_rollup_durations
    SELECT hour, workflow_name, agent_id, bin, -1
    FROM dashboard_run_contribution WHERE id = OLD.id AND hour IS NOT NULL AND bin IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id, bin) DO UPDATE SET runs = runs + excluded.runs;
END;

CREATE TRIGGER dashboard_rollup_run_enter AFTER UPDATE OF
    started_at, workflow_name, agent_id, status, total_cost_usd, total_tokens, duration_seconds ON workflow_runs BEGIN
    INSERT INTO dashboard_rollup_runs
    SELECT hour, workflow_name, agent_id, 1, completed, failed, cancelled, cost_usd, tokens
    FROM dashboard_run_contribution WHERE id = NEW.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        completed = completed + excluded.completed, failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled, cost_usd = cost_usd + excluded.cost_usd,
        tokens = tokens + excluded.tokens;
    INSERT INTO dashboard_rollup_durations
    SELECT hour, workflow_name, agent_id, bin, 1
    FROM dashboard_run_contribution WHERE id = NEW.id AND hour IS NOT NULL AND bin IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id, bin) DO UPDATE SET runs = runs + excluded.runs;
END;

CREATE TRIGGER dashboard_rollup_run_delete BEFORE DELETE ON workflow_runs BEGIN
    INSERT INTO dashboard_rollup_runs
    SELECT hour, workflow_name, agent_id, -1, -completed, -failed, -cancelled, -cost_usd, -tokens
    FROM dashboard_run_contribution WHERE id = OLD.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET runs = runs + excluded.runs,
        completed = completed + excluded.completed, failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled, cost_usd = cost_usd + excluded.cost_usd,
        tokens = tokens + excluded.tokens;
    INSERT INTO dashboard_rollup_durations
    SELECT hour, workflow_name, agent_id, bin, -1
    FROM dashboard_run_contribution WHERE id = OLD.id AND hour IS NOT NULL AND bin IS NOT NULL
    ON CONFLICT (hour, workflow_name, agent_id, bin) DO UPDATE SET runs = runs + excluded.runs;
END;

-- A node report's part: only reports SQLite can read as a JSON object count.
CREATE VIEW dashboard_state_contribution AS
SELECT s.id,
    strftime('%Y-%m-%d %H:00:00', s.created_at) || '.000000' AS hour,
    r.workflow_name,
    s.node_id,
    substr(COALESCE(CAST(json_extract(s.state_data, '$.model') AS TEXT), ''), 1, 200) AS model,
    CASE WHEN json_extract(s.state_data, '$.cost_usd') BETWEEN 0 AND 1e9
        THEN json_extract(s.state_data, '$.cost_usd') ELSE 0.0 END AS cost_usd,
    CASE WHEN json_type(s.state_data, '$.total_tokens') IN ('integer', 'real')
            AND json_extract(s.state_data, '$.total_tokens') BETWEEN 0 AND 1000000000000
            THEN json_extract(s.state_data, '$.total_tokens')
        WHEN json_extract(s.state_data, '$.input_tokens') BETWEEN 0 AND 1000000000000
            OR json_extract(s.state_data, '$.output_tokens') BETWEEN 0 AND 1000000000000
            THEN CASE WHEN json_extract(s.state_data, '$.input_tokens') BETWEEN 0 AND 1000000000000
                      THEN json_extract(s.state_data, '$.input_tokens') ELSE 0 END
               + CASE WHEN json_extract(s.state_data, '$.output_tokens') BETWEEN 0 AND 1000000000000
                      THEN json_extract(s.state_data, '$.output_tokens') ELSE 0 END
        ELSE 0 END AS tokens,
    COALESCE(json_extract(s.state_data, '$.duration_seconds') BETWEEN 0 AND 1e9, 0) AS timed,
    CASE WHEN json_extract(s.state_data, '$.duration_seconds') BETWEEN 0 AND 1e9
        THEN json_extract(s.state_data, '$.duration_seconds') ELSE 0.0 END AS duration_seconds
FROM execution_states s JOIN workflow_runs r ON r.id = s.run_id
WHERE json_valid(s.state_data) AND json_type(s.state_data) = 'object';

INSERT INTO dashboard_rollup_nodes
SELECT hour, workflow_name, node_id, model, COUNT(*), SUM(timed), SUM(cost_usd), SUM(tokens), SUM(duration_seconds)
FROM dashboard_state_contribution WHERE hour IS NOT NULL GROUP BY hour, workflow_name, node_id, model;

CREATE TRIGGER dashboard_rollup_state_insert AFTER INSERT ON execution_states BEGIN
    INSERT INTO dashboard_rollup_nodes
    SELECT hour, workflow_name, node_id, model, 1, timed, cost_usd, tokens, duration_seconds
    FROM dashboard_state_contribution WHERE id = NEW.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, node_id, model) DO UPDATE SET reports = reports + excluded.reports,
        timed = timed + excluded.timed, cost_usd = cost_usd + excluded.cost_usd, tokens = tokens + excluded.tokens,
        duration_seconds = duration_seconds + excluded.duration_seconds;
END;

CREATE TRIGGER dashboard_rollup_state_delete BEFORE DELETE ON execution_states BEGIN
    INSERT INTO dashboard_rollup_nodes
    SELECT hour, workflow_name, node_id, model, -1, -timed, -cost_usd, -tokens, -duration_seconds
    FROM dashboard_state_contribution WHERE id = OLD.id AND hour IS NOT NULL
    ON CONFLICT (hour, workflow_name, node_id, model) DO UPDATE SET reports = reports + excluded.reports,
        timed = timed + excluded.timed, cost_usd = cost_usd + excluded.cost_usd, tokens = tokens + excluded.tokens,
        duration_seconds = duration_seconds + excluded.duration_seconds;
END;
