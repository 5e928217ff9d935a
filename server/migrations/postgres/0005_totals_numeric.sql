-- Token totals as NUMERIC: a sum over runs that another writer stored can never
-- overflow, where a BIGINT sum would fail every later write of a run.
ALTER TABLE dashboard_run_totals ALTER COLUMN tokens TYPE NUMERIC;
