-- Text search over run names and ids that does not scan: trigram indexes (pg_trgm)
-- serve `ILIKE '%term%'`. Where the extension cannot be created (not installed, or not
-- allowed), search still works, by scanning.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX IF NOT EXISTS ix_runs_search ON workflow_runs USING gin (workflow_name gin_trgm_ops, id gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no trigram index for run search (%); search scans instead', SQLERRM;
END
$$;

-- A run's restarts: only runs that are restarts are indexed.
DROP INDEX IF EXISTS ix_runs_restarted_from;
CREATE INDEX IF NOT EXISTS ix_runs_restarts ON workflow_runs (restarted_from, started_at, id)
    WHERE restarted_from IS NOT NULL;
