-- Finished runs are deleted after ORDERDESK_RUN_RETENTION_DAYS by the worker's sweeper
-- (db::runs::delete_finished). A request outlives its run: its link is cleared, its own
-- final status stays. The indexes keep the sweeper's batch and each delete's request lookup
-- off full scans.
ALTER TABLE requests DROP CONSTRAINT requests_run_id_fkey;
ALTER TABLE requests ADD CONSTRAINT requests_run_id_fkey
    FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE SET NULL;
CREATE INDEX requests_by_run ON requests (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX runs_finished ON runs ((coalesce(finished_at, updated_at)))
    WHERE status NOT IN ('queued', 'running');
