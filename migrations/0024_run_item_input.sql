-- An item's own input: an import's line (the change it asks for one order), where a bulk
-- job's items all share the run's input.
ALTER TABLE run_items ADD COLUMN input jsonb;
