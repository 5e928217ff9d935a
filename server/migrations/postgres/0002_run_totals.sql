-- Run totals per status, kept by a trigger so the summary reads five rows instead of
-- aggregating every run, whoever writes the runs.
CREATE TABLE dashboard_run_totals (
    status VARCHAR(32) NOT NULL PRIMARY KEY,
    runs BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL
);

INSERT INTO dashboard_run_totals (status, runs, cost_usd, tokens)
SELECT status, COUNT(*), COALESCE(SUM(total_cost_usd), 0), COALESCE(SUM(total_tokens), 0)
FROM workflow_runs GROUP BY status;

CREATE FUNCTION dashboard_track_run_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE dashboard_run_totals SET runs = runs - 1,
            cost_usd = cost_usd - COALESCE(OLD.total_cost_usd, 0), tokens = tokens - COALESCE(OLD.total_tokens, 0)
        WHERE status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO dashboard_run_totals AS t (status, runs, cost_usd, tokens)
        VALUES (NEW.status, 1, COALESCE(NEW.total_cost_usd, 0), COALESCE(NEW.total_tokens, 0))
        ON CONFLICT (status) DO UPDATE SET runs = t.runs + 1,
            cost_usd = t.cost_usd + EXCLUDED.cost_usd, tokens = t.tokens + EXCLUDED.tokens;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER dashboard_totals_insert_delete AFTER INSERT OR DELETE ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION dashboard_track_run_totals();
CREATE TRIGGER dashboard_totals_update AFTER UPDATE OF status, total_cost_usd, total_tokens ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION dashboard_track_run_totals();


