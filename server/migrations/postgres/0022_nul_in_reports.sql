-- A node report holding a NUL character (JSON's \u0000, which SQLite keeps) is stored
-- as sent on both databases. PostgreSQL's jsonb refuses that escape, so reading a
-- report for the rollups no longer casts it blindly: reports without the escape take
-- the fast path as before, and one with it is read with the escape taken out (only
-- its amounts, model and duration count), or not counted if even that is not JSON.
CREATE OR REPLACE FUNCTION dashboard_try_jsonb(text TEXT) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF current_setting('dashboard.writer', true) = 'on' AND strpos(text, '\u0000') = 0 THEN
        RETURN text::jsonb;
    END IF;
    BEGIN
        RETURN text::jsonb;
    EXCEPTION WHEN others THEN
        BEGIN
            RETURN replace(text, '\u0000', '')::jsonb;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END;
    END;
END;
$$;

CREATE OR REPLACE FUNCTION dashboard_track_state_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    data jsonb;
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('dashboard.writer', true) = 'on' AND strpos(NEW.state_data, '\u0000') = 0 THEN
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
