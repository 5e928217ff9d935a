-- MLflow identifiers a runner reports, so a run links to its MLflow run.
ALTER TABLE workflow_runs ADD COLUMN mlflow_experiment_id VARCHAR(64);
ALTER TABLE workflow_runs ADD COLUMN mlflow_run_id VARCHAR(64);
