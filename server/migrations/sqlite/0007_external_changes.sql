-- Changes other writers make (the original runtime and registry, a SQL shell) reach
-- the event log too: these triggers record a snapshot of each changed row, and the
-- dashboard turns it into the same event its own writes produce. The dashboard's own
-- writer sets `active` for the length of each of its transactions, so its writes,
-- which record their events themselves, are not recorded twice; no other connection
-- can see that mark (SQLite has one writer at a time, and a transaction's writes are
-- its own until it commits).
CREATE TABLE dashboard_writer (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    active INTEGER NOT NULL
);
INSERT INTO dashboard_writer (id, active) VALUES (1, 0);

CREATE TRIGGER dashboard_external_run_insert AFTER INSERT ON workflow_runs
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('workflow_row', NEW.id,
        json_object('id', NEW.id, 'workflow_name', NEW.workflow_name, 'status', NEW.status,
            'started_at', NEW.started_at, 'completed_at', NEW.completed_at, 'duration_seconds', NEW.duration_seconds,
            'total_tokens', NEW.total_tokens, 'total_cost_usd', NEW.total_cost_usd,
            'error_message', NEW.error_message, 'restarted_from', NEW.restarted_from),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;

CREATE TRIGGER dashboard_external_run_update AFTER UPDATE ON workflow_runs
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('workflow_row', NEW.id,
        json_object('id', NEW.id, 'workflow_name', NEW.workflow_name, 'status', NEW.status,
            'started_at', NEW.started_at, 'completed_at', NEW.completed_at, 'duration_seconds', NEW.duration_seconds,
            'total_tokens', NEW.total_tokens, 'total_cost_usd', NEW.total_cost_usd,
            'error_message', NEW.error_message, 'restarted_from', NEW.restarted_from),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;

CREATE TRIGGER dashboard_external_state_insert AFTER INSERT ON execution_states
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('state_row', NEW.run_id,
        json_object('id', NEW.id, 'run_id', NEW.run_id, 'node_id', NEW.node_id, 'state_data', NEW.state_data,
            'created_at', NEW.created_at),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;

CREATE TRIGGER dashboard_external_agent_insert AFTER INSERT ON agents
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('agent_row', NULL,
        json_object('change', 'registered', 'agent_id', NEW.agent_id, 'agent_name', NEW.agent_name,
            'host', NEW.host, 'port', NEW.port, 'last_heartbeat', NEW.last_heartbeat,
            'ttl_seconds', NEW.ttl_seconds, 'agent_metadata', NEW.agent_metadata, 'registered_at', NEW.registered_at),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;

CREATE TRIGGER dashboard_external_agent_update AFTER UPDATE ON agents
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('agent_row', NULL,
        json_object(
            'change', CASE WHEN NEW.agent_name IS OLD.agent_name AND NEW.host IS OLD.host AND NEW.port IS OLD.port
                AND NEW.ttl_seconds IS OLD.ttl_seconds AND NEW.agent_metadata IS OLD.agent_metadata
                THEN 'heartbeat' ELSE 'registered' END,
            'agent_id', NEW.agent_id, 'agent_name', NEW.agent_name,
            'host', NEW.host, 'port', NEW.port, 'last_heartbeat', NEW.last_heartbeat,
            'ttl_seconds', NEW.ttl_seconds, 'agent_metadata', NEW.agent_metadata, 'registered_at', NEW.registered_at),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;

CREATE TRIGGER dashboard_external_agent_delete AFTER DELETE ON agents
WHEN (SELECT active FROM dashboard_writer) = 0 BEGIN
    INSERT INTO dashboard_events (kind, run_id, payload, created_at) VALUES ('agent_row', NULL,
        json_object('change', 'removed', 'agent_id', OLD.agent_id, 'agent_name', OLD.agent_name,
            'host', OLD.host, 'port', OLD.port, 'last_heartbeat', OLD.last_heartbeat,
            'ttl_seconds', OLD.ttl_seconds, 'agent_metadata', OLD.agent_metadata, 'registered_at', OLD.registered_at),
        strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;
