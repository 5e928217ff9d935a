-- Run totals per status, kept by triggers so the summary reads five rows instead of
-- aggregating every run. Triggers fire for every writer of the file, the original
-- Python runtime included, so the totals never go stale.
CREATE TABLE dashboard_run_totals (
    status VARCHAR(32) NOT NULL PRIMARY KEY,
    runs INTEGER NOT NULL,
    cost_usd FLOAT NOT NULL,
    tokens INTEGER NOT NULL
);

INSERT INTO dashboard_run_totals (status, runs, cost_usd, tokens)
SELECT status, COUNT(*), COALESCE(SUM(total_cost_usd), 0.0), COALESCE(SUM(total_tokens), 0)
FROM workflow_runs GROUP BY status;

CREATE TRIGGER dashboard_totals_insert AFTER INSERT ON workflow_runs BEGIN
    INSERT OR IGNORE INTO dashboard_run_totals (status, runs, cost_usd, tokens) VALUES (NEW.status, 0, 0.0, 0);
    UPDATE dashboard_run_totals SET runs = runs + 1,
        cost_usd = cost_usd + COALESCE(NEW.total_cost_usd, 0.0), tokens = tokens + COALESCE(NEW.total_tokens, 0)
    WHERE status = NEW.status;
END;

CREATE TRIGGER dashboard_totals_delete AFTER DELETE ON workflow_runs BEGIN
    UPDATE dashboard_run_totals SET runs = runs - 1,
        cost_usd = cost_usd - COALESCE(OLD.total_cost_usd, 0.0), tokens = tokens - COALESCE(OLD.total_tokens, 0)
    WHERE status = OLD.status;
END;

CREATE TRIGGER dashboard_totals_update AFTER UPDATE OF status, total_cost_usd, total_tokens ON workflow_runs BEGIN
    UPDATE dashboard_run_totals SET runs = runs - 1,
        cost_usd = cost_usd - COALESCE(OLD.total_cost_usd, 0.0), tokens = tokens - COALESCE(OLD.total_tokens, 0)
    WHERE status = OLD.status;
    INSERT OR IGNORE INTO dashboard_run_totals (status, runs, cost_usd, tokens) VALUES (NEW.status, 0, 0.0, 0);
    UPDATE dashboard_run_totals SET runs = runs + 1,
        cost_usd = cost_usd + COALESCE(NEW.total_cost_usd, 0.0), tokens = tokens + COALESCE(NEW.total_tokens, 0)
    WHERE status = NEW.status;
END;


