-- Changes other writers make (another tool, a SQL shell) reach the event log too:
-- these triggers record a snapshot of each changed row, and the dashboard turns it
-- into the same event its own writes produce. The dashboard's own transactions set
-- `dashboard.writer` (SET LOCAL), so its writes, which record their events themselves,
-- are not recorded twice. An outside writer takes the same advisory lock as the
-- dashboard's writers before it records, so event ids still commit in order, and
-- notifies the replicas' relays.
CREATE FUNCTION dashboard_record_external_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT;
    run TEXT;
    payload JSON;
BEGIN
    IF current_setting('dashboard.writer', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'workflow_runs' THEN
        kind := 'workflow_row';
        run := NEW.id;
        payload := json_build_object('id', NEW.id, 'workflow_name', NEW.workflow_name, 'status', NEW.status,
            'started_at', NEW.started_at, 'completed_at', NEW.completed_at, 'duration_seconds', NEW.duration_seconds,
            'total_tokens', NEW.total_tokens, 'total_cost_usd', NEW.total_cost_usd,
            'error_message', NEW.error_message, 'restarted_from', NEW.restarted_from);
    ELSIF TG_TABLE_NAME = 'execution_states' THEN
        kind := 'state_row';
        run := NEW.run_id;
        payload := json_build_object('id', NEW.id, 'run_id', NEW.run_id, 'node_id', NEW.node_id,
            'state_data', NEW.state_data, 'created_at', NEW.created_at);
    ELSIF TG_OP = 'DELETE' THEN
        kind := 'agent_row';
        payload := json_build_object('change', 'removed', 'agent_id', OLD.agent_id, 'agent_name', OLD.agent_name,
            'host', OLD.host, 'port', OLD.port, 'last_heartbeat', OLD.last_heartbeat,
            'ttl_seconds', OLD.ttl_seconds, 'agent_metadata', OLD.agent_metadata, 'registered_at', OLD.registered_at);
    ELSE
        kind := 'agent_row';
        payload := json_build_object(
            'change', CASE WHEN TG_OP = 'UPDATE'
                AND (NEW.agent_name, NEW.host, NEW.port, NEW.ttl_seconds, NEW.agent_metadata)
                    IS NOT DISTINCT FROM (OLD.agent_name, OLD.host, OLD.port, OLD.ttl_seconds, OLD.agent_metadata)
                THEN 'heartbeat' ELSE 'registered' END,
            'agent_id', NEW.agent_id, 'agent_name', NEW.agent_name,
            'host', NEW.host, 'port', NEW.port, 'last_heartbeat', NEW.last_heartbeat,
            'ttl_seconds', NEW.ttl_seconds, 'agent_metadata', NEW.agent_metadata, 'registered_at', NEW.registered_at);
    END IF;
    PERFORM pg_advisory_xact_lock(869100064273168481);
    INSERT INTO dashboard_events (kind, run_id, payload, created_at)
        VALUES (kind, run, payload::TEXT, CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP));
    PERFORM pg_notify('dashboard_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER dashboard_external_runs AFTER INSERT OR UPDATE ON workflow_runs
    FOR EACH ROW EXECUTE FUNCTION dashboard_record_external_change();
CREATE TRIGGER dashboard_external_states AFTER INSERT ON execution_states
    FOR EACH ROW EXECUTE FUNCTION dashboard_record_external_change();
CREATE TRIGGER dashboard_external_agents AFTER INSERT OR UPDATE OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION dashboard_record_external_change();
