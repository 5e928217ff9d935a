-- Rollups for analytics (see the SQLite migration of the same number): per hour of
-- start, workflow and agent, what runs did and cost; per hour, workflow, node and
-- model, what node reports cost. Kept by triggers, so rows any writer stores count.
-- Amounts outside the dashboard's bounds (limits.rs) count as zero; a report that is
-- not a JSON object counts in no rollup, and never fails its writer's insert.

-- Duration bins: bin 0 under 10 ms, bin k >= 1 from 0.01 * 1.15^(k-1) s, 1.15 wide.
CREATE TABLE dashboard_duration_bins (
    bin INTEGER NOT NULL PRIMARY KEY,
    lower_seconds DOUBLE PRECISION NOT NULL UNIQUE,
    upper_seconds DOUBLE PRECISION NOT NULL
);
INSERT INTO dashboard_duration_bins (bin, lower_seconds, upper_seconds)
SELECT 0, 0, 0.01 UNION ALL
SELECT k, 0.01 * power(1.15, k - 1), 0.01 * power(1.15, k) FROM generate_series(1, 145) AS k;

CREATE TABLE dashboard_rollup_runs (
    hour TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    runs BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    cancelled BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL,
    PRIMARY KEY (hour, workflow_name, agent_id)
);

CREATE TABLE dashboard_rollup_durations (
    hour TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    bin INTEGER NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (hour, workflow_name, agent_id, bin)
);

CREATE TABLE dashboard_rollup_nodes (
    hour TIMESTAMP NOT NULL,
    workflow_name TEXT NOT NULL,
    node_id TEXT NOT NULL,
    model TEXT NOT NULL,
    reports BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, workflow_name, node_id, model)
);

CREATE FUNCTION dashboard_duration_bin(seconds DOUBLE PRECISION) RETURNS INTEGER LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT bin FROM dashboard_duration_bins WHERE lower_seconds <= seconds
                     ORDER BY lower_seconds DESC LIMIT 1), 0)
$$;

-- Adds a run's part to the rollups with `sign` +1, or takes it off with -1.
CREATE FUNCTION dashboard_rollup_run(r workflow_runs, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    at TIMESTAMP := date_trunc('hour', r.started_at);
    agent TEXT := COALESCE(r.agent_id, '');
    cost DOUBLE PRECISION := CASE WHEN r.total_cost_usd BETWEEN 0 AND 1e9 THEN r.total_cost_usd ELSE 0 END;
    tokens BIGINT := CASE WHEN r.total_tokens BETWEEN 0 AND 1000000000000 THEN r.total_tokens ELSE 0 END;
BEGIN
    INSERT INTO dashboard_rollup_runs AS t VALUES (at, r.workflow_name, agent, sign,
        sign * (r.status = 'completed')::int, sign * (r.status = 'failed')::int,
        sign * (r.status = 'cancelled')::int, sign * cost, sign * tokens)
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET runs = t.runs + EXCLUDED.runs,
        completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed,
        cancelled = t.cancelled + EXCLUDED.cancelled, cost_usd = t.cost_usd + EXCLUDED.cost_usd,
        tokens = t.tokens + EXCLUDED.tokens;
    IF r.status IN ('completed', 'failed', 'cancelled') AND r.duration_seconds BETWEEN 0 AND 1e9 THEN
        INSERT INTO dashboard_rollup_durations AS t
        VALUES (at, r.workflow_name, agent, dashboard_duration_bin(r.duration_seconds), sign)
        ON CONFLICT (hour, workflow_name, agent_id, bin) DO UPDATE SET runs = t.runs + EXCLUDED.runs;
    END IF;
END;
$$;

CREATE FUNCTION dashboard_track_run_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dashboard_rollup_run(OLD, -1); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM dashboard_rollup_run(NEW, 1); END IF;
    RETURN NULL;
END;
$$;

-- Whether a JSON value is a number within [0, bound].
CREATE FUNCTION dashboard_json_within(v jsonb, bound NUMERIC) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::numeric BETWEEN 0 AND bound ELSE false END
$$;

-- A JSON number within [0, bound], else 0.
CREATE FUNCTION dashboard_json_amount(v jsonb, bound NUMERIC) RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN dashboard_json_within(v, bound) THEN v::double precision ELSE 0 END
$$;

-- The report as JSON, or NULL where it is not JSON (another writer's text).
CREATE FUNCTION dashboard_try_jsonb(text TEXT) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN text::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;

-- A node report's part of the rollups, one row per report that is a JSON object.
CREATE FUNCTION dashboard_state_contribution(p_run TEXT, p_node TEXT, p_data TEXT, p_at TIMESTAMP)
RETURNS TABLE (hour TIMESTAMP, workflow_name TEXT, node_id TEXT, model TEXT, timed INTEGER,
               cost_usd DOUBLE PRECISION, tokens BIGINT, duration_seconds DOUBLE PRECISION)
LANGUAGE sql STABLE AS $$
    SELECT date_trunc('hour', p_at), r.workflow_name, p_node, left(COALESCE(data ->> 'model', ''), 200),
        dashboard_json_within(data -> 'duration_seconds', 1e9)::int,
        dashboard_json_amount(data -> 'cost_usd', 1e9),
        (CASE WHEN jsonb_typeof(data -> 'total_tokens') = 'number'
              THEN dashboard_json_amount(data -> 'total_tokens', 1000000000000)
              ELSE dashboard_json_amount(data -> 'input_tokens', 1000000000000)
                 + dashboard_json_amount(data -> 'output_tokens', 1000000000000) END)::bigint,
        dashboard_json_amount(data -> 'duration_seconds', 1e9)
    FROM (SELECT dashboard_try_jsonb(p_data) AS data) AS parsed
    JOIN workflow_runs r ON r.id = p_run
    WHERE jsonb_typeof(data) = 'object'
$$;

CREATE FUNCTION dashboard_rollup_state(s execution_states, sign INTEGER) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dashboard_rollup_nodes AS t
    SELECT hour, workflow_name, node_id, model, sign, sign * timed, sign * cost_usd, sign * tokens,
        sign * duration_seconds
    FROM dashboard_state_contribution(s.run_id, s.node_id, s.state_data, s.created_at)
    ON CONFLICT (hour, workflow_name, node_id, model) DO UPDATE SET reports = t.reports + EXCLUDED.reports,
        timed = t.timed + EXCLUDED.timed, cost_usd = t.cost_usd + EXCLUDED.cost_usd,
        tokens = t.tokens + EXCLUDED.tokens, duration_seconds = t.duration_seconds + EXCLUDED.duration_seconds
$$;

CREATE FUNCTION dashboard_track_state_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN PERFORM dashboard_rollup_state(OLD, -1); ELSE PERFORM dashboard_rollup_state(NEW, 1); END IF;
    RETURN NULL;
END;
$$;

-- Backfill, then keep up.
INSERT INTO dashboard_rollup_runs
SELECT date_trunc('hour', started_at), workflow_name, COALESCE(agent_id, ''), COUNT(*),
    COUNT(*) FILTER (WHERE status = 'completed'), COUNT(*) FILTER (WHERE status = 'failed'),
    COUNT(*) FILTER (WHERE status = 'cancelled'),
    COALESCE(SUM(total_cost_usd) FILTER (WHERE total_cost_usd BETWEEN 0 AND 1e9), 0),
    COALESCE(SUM(total_tokens) FILTER (WHERE total_tokens BETWEEN 0 AND 1000000000000), 0)
FROM workflow_runs GROUP BY 1, 2, 3;

INSERT INTO dashboard_rollup_durations
SELECT date_trunc('hour', started_at), workflow_name, COALESCE(agent_id, ''), dashboard_duration_bin(duration_seconds),
    COUNT(*)
FROM workflow_runs
WHERE status IN ('completed', 'failed', 'cancelled') AND duration_seconds BETWEEN 0 AND 1e9
GROUP BY 1, 2, 3, 4;

INSERT INTO dashboard_rollup_nodes
SELECT c.hour, c.workflow_name, c.node_id, c.model, COUNT(*), SUM(c.timed), SUM(c.cost_usd), SUM(c.tokens),
    SUM(c.duration_seconds)
FROM execution_states s, dashboard_state_contribution(s.run_id, s.node_id, s.state_data, s.created_at) AS c
GROUP BY 1, 2, 3, 4;

CREATE TRIGGER dashboard_rollup_runs_insert_delete AFTER INSERT OR DELETE ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION dashboard_track_run_rollups();
CREATE TRIGGER dashboard_rollup_runs_update AFTER UPDATE OF
    started_at, workflow_name, agent_id, status, total_cost_usd, total_tokens, duration_seconds ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION dashboard_track_run_rollups();
CREATE TRIGGER dashboard_rollup_states AFTER INSERT OR DELETE ON execution_states
    FOR EACH ROW EXECUTE FUNCTION dashboard_track_state_rollups();
