-- Text search over run names and ids that does not scan: a trigram index (FTS5), so
-- that any substring of three characters or more is looked up. The dashboard still
-- checks each candidate with LIKE, so results are exactly those of a scan; the index
-- only narrows the rows to check. Entries have their own rowids (a VACUUM may
-- renumber the runs') and are found by id when a run is deleted or renamed. Other
-- writers' SQLite needs FTS5 with the trigram tokenizer (3.34 or later), as Python's
-- has had for years.
CREATE VIRTUAL TABLE run_search USING fts5(workflow_name, id, tokenize = 'trigram');
INSERT INTO run_search (workflow_name, id) SELECT workflow_name, id FROM workflow_runs;

CREATE TRIGGER run_search_insert AFTER INSERT ON workflow_runs BEGIN
    INSERT INTO run_search (workflow_name, id) VALUES (NEW.workflow_name, NEW.id);
END;

CREATE TRIGGER run_search_delete AFTER DELETE ON workflow_runs BEGIN
    DELETE FROM run_search WHERE id = OLD.id AND rowid IN (
        SELECT rowid FROM run_search WHERE run_search MATCH 'id : "' || replace(OLD.id, '"', '""') || '"');
END;

CREATE TRIGGER run_search_update AFTER UPDATE OF workflow_name, id ON workflow_runs BEGIN
    DELETE FROM run_search WHERE id = OLD.id AND rowid IN (
        SELECT rowid FROM run_search WHERE run_search MATCH 'id : "' || replace(OLD.id, '"', '""') || '"');
    INSERT INTO run_search (workflow_name, id) VALUES (NEW.workflow_name, NEW.id);
END;

-- A run's restarts. Nearly every run has none, and an index on the column alone looked
-- to the planner like one value shared by a million rows, so it scanned them all.
DROP INDEX IF EXISTS ix_runs_restarted_from;
CREATE INDEX ix_runs_restarts ON workflow_runs (restarted_from, started_at, id) WHERE restarted_from IS NOT NULL;

-- Start times in one text format, the one the dashboard and the original (SQLAlchemy)
-- write, because lists order and page by the text: another writer's
-- '2026-01-02 01:00:00' sorted before the dashboard's '2026-01-02 01:00:00.000000' for
-- the same instant, so a page cursor taken there never moved past it. Values SQLite
-- cannot read are left as they are.
UPDATE workflow_runs SET started_at = strftime('%Y-%m-%d %H:%M:%f', started_at) || '000'
WHERE started_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
    AND strftime('%Y-%m-%d %H:%M:%f', started_at) IS NOT NULL;

CREATE TRIGGER runs_started_at_format_insert AFTER INSERT ON workflow_runs
WHEN NEW.started_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
    AND strftime('%Y-%m-%d %H:%M:%f', NEW.started_at) IS NOT NULL BEGIN
    UPDATE workflow_runs SET started_at = strftime('%Y-%m-%d %H:%M:%f', NEW.started_at) || '000' WHERE id = NEW.id;
END;

CREATE TRIGGER runs_started_at_format_update AFTER UPDATE OF started_at ON workflow_runs
WHEN NEW.started_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
    AND strftime('%Y-%m-%d %H:%M:%f', NEW.started_at) IS NOT NULL BEGIN
    UPDATE workflow_runs SET started_at = strftime('%Y-%m-%d %H:%M:%f', NEW.started_at) || '000' WHERE id = NEW.id;
END;
