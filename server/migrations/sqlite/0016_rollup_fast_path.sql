-- The most frequent change to a run, a node report growing its totals, changes only
-- its amounts: one upsert of the difference instead of taking the run's part off and
-- adding it again (two upserts and the duration bin's lookup each).
DROP TRIGGER dashboard_rollup_run_leave;
DROP TRIGGER dashboard_rollup_run_enter;

CREATE TRIGGER dashboard_rollup_run_leave BEFORE UPDATE OF
    started_at, workflow_name, agent_id, status, total_cost_usd, total_tokens, duration_seconds ON workflow_runs
WHEN NOT (OLD.started_at IS NEW.started_at AND OLD.workflow_name IS NEW.workflow_name AND OLD.agent_id IS NEW.agent_id
    AND OLD.status IS NEW.status AND OLD.duration_seconds IS NEW.duration_seconds) BEGIN
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
    started_at, workflow_name, agent_id, status, total_cost_usd, total_tokens, duration_seconds ON workflow_runs
WHEN NOT (OLD.started_at IS NEW.started_at AND OLD.workflow_name IS NEW.workflow_name AND OLD.agent_id IS NEW.agent_id
    AND OLD.status IS NEW.status AND OLD.duration_seconds IS NEW.duration_seconds) BEGIN
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

CREATE TRIGGER dashboard_rollup_run_amounts AFTER UPDATE OF total_cost_usd, total_tokens ON workflow_runs
WHEN OLD.started_at IS NEW.started_at AND OLD.workflow_name IS NEW.workflow_name AND OLD.agent_id IS NEW.agent_id
    AND OLD.status IS NEW.status AND OLD.duration_seconds IS NEW.duration_seconds
    AND strftime('%Y-%m-%d %H:00:00', NEW.started_at) IS NOT NULL BEGIN
    INSERT INTO dashboard_rollup_runs VALUES (strftime('%Y-%m-%d %H:00:00', NEW.started_at) || '.000000',
        NEW.workflow_name, COALESCE(NEW.agent_id, ''), 0, 0, 0, 0,
        (CASE WHEN NEW.total_cost_usd BETWEEN 0 AND 1e9 THEN NEW.total_cost_usd ELSE 0.0 END) - (CASE WHEN OLD.total_cost_usd BETWEEN 0 AND 1e9 THEN OLD.total_cost_usd ELSE 0.0 END),
        (CASE WHEN NEW.total_tokens BETWEEN 0 AND 1000000000000 THEN CAST(NEW.total_tokens AS INTEGER) ELSE 0 END) - (CASE WHEN OLD.total_tokens BETWEEN 0 AND 1000000000000 THEN CAST(OLD.total_tokens AS INTEGER) ELSE 0 END))
    ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
        tokens = tokens + excluded.tokens;
END;
