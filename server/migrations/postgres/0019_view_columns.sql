-- The runs table's columns a saved view hides (comma-separated; none when NULL).
ALTER TABLE dashboard_views ADD COLUMN hidden_columns VARCHAR(256);
