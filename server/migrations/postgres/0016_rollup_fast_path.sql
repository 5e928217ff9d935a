-- The most frequent change to a run, a node report growing its totals, changes only
-- its amounts: one upsert of the difference instead of taking the run's part off and
-- adding it again. And the dashboard's own node reports, JSON it wrote itself, are read
-- without the exception block (a subtransaction each) that guards other writers' text.
CREATE OR REPLACE FUNCTION dashboard_track_run_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.started_at IS NOT DISTINCT FROM NEW.started_at
        AND OLD.workflow_name IS NOT DISTINCT FROM NEW.workflow_name
        AND OLD.agent_id IS NOT DISTINCT FROM NEW.agent_id AND OLD.status IS NOT DISTINCT FROM NEW.status
        AND OLD.duration_seconds IS NOT DISTINCT FROM NEW.duration_seconds THEN
        INSERT INTO dashboard_rollup_runs AS t VALUES (date_trunc('hour', NEW.started_at), NEW.workflow_name,
            COALESCE(NEW.agent_id, ''), 0, 0, 0, 0,
            (CASE WHEN NEW.total_cost_usd BETWEEN 0 AND 1e9 THEN NEW.total_cost_usd ELSE 0 END)
                - (CASE WHEN OLD.total_cost_usd BETWEEN 0 AND 1e9 THEN OLD.total_cost_usd ELSE 0 END),
            (CASE WHEN NEW.total_tokens BETWEEN 0 AND 1000000000000 THEN NEW.total_tokens ELSE 0 END)
                - (CASE WHEN OLD.total_tokens BETWEEN 0 AND 1000000000000 THEN OLD.total_tokens ELSE 0 END))
        ON CONFLICT (hour, workflow_name, agent_id) DO UPDATE SET cost_usd = t.cost_usd + EXCLUDED.cost_usd,
            tokens = t.tokens + EXCLUDED.tokens;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dashboard_rollup_run(OLD, -1); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM dashboard_rollup_run(NEW, 1); END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION dashboard_try_jsonb(text TEXT) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF current_setting('dashboard.writer', true) = 'on' THEN
        RETURN text::jsonb;
    END IF;
    BEGIN
        RETURN text::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
END;
$$;

-- The dashboard's own node reports are JSON it wrote, with amounts it checked against
-- its bounds: one statement reads them, without the checks (and their function calls)
-- other writers' reports go through.
CREATE OR REPLACE FUNCTION dashboard_track_state_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    data jsonb;
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('dashboard.writer', true) = 'on' THEN
        data := NEW.state_data::jsonb;
        INSERT INTO dashboard_rollup_nodes AS t
        SELECT date_trunc('hour', NEW.created_at), r.workflow_name, NEW.node_id,
            left(COALESCE(data ->> 'model', ''), 200), 1, (data ? 'duration_seconds')::int,
            COALESCE((data ->> 'cost_usd')::double precision, 0),
            COALESCE((data ->> 'total_tokens')::bigint,
                COALESCE((data ->> 'input_tokens')::bigint, 0) + COALESCE((data ->> 'output_tokens')::bigint, 0)),
            COALESCE((data ->> 'duration_seconds')::double precision, 0)
        FROM workflow_runs r WHERE r.id = NEW.run_id
        ON CONFLICT (hour, workflow_name, node_id, model) DO UPDATE SET reports = t.reports + 1,
            timed = t.timed + EXCLUDED.timed, cost_usd = t.cost_usd + EXCLUDED.cost_usd,
            tokens = t.tokens + EXCLUDED.tokens, duration_seconds = t.duration_seconds + EXCLUDED.duration_seconds;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN PERFORM dashboard_rollup_state(OLD, -1); ELSE PERFORM dashboard_rollup_state(NEW, 1); END IF;
    RETURN NULL;
END;
$$;
