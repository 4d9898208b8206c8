-- No update of a run was a HOT update: every one sets `updated_at`, which `runs_finished`
-- indexed (`coalesce(finished_at, updated_at)`), and PostgreSQL updates a row in place only
-- when no indexed column changes. So each checkpoint, lease extension and progress report
-- wrote a new entry into every index of `runs` (and left one more for vacuum). An ended run
-- carries `finished_at` (the engine's end and an operator's cancel set it); this fills it
-- in for any that lack it, the CHECK keeps it so, and the index takes `finished_at` alone.
UPDATE runs SET finished_at = updated_at
WHERE status NOT IN ('queued', 'running') AND finished_at IS NULL;
ALTER TABLE runs ADD CONSTRAINT runs_ended_at
    CHECK (status IN ('queued', 'running') OR finished_at IS NOT NULL);
DROP INDEX runs_finished;
CREATE INDEX runs_finished ON runs (finished_at) WHERE status NOT IN ('queued', 'running');
