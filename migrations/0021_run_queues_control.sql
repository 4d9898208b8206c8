-- Named queues and job control (issue 10).
-- queue: the workflow's queue (workflows.toml `queue`), copied at acceptance so the relay,
-- the sweeper and the listings need no lookup; a worker takes the queues it is told to.
-- cancel_requested_*: a cooperative cancel, honoured by the engine at the next step (or
-- item) boundary, after which the done steps are compensated and the run ends `cancelled`.
-- retries: how many times an operator retried the run; the upstream Idempotency-Keys of a
-- retried run's steps carry it (`{run}:{step}:r{n}`), since the earlier attempt's answers
-- were compensated and must not be replayed.
-- progress_unit / progress_failed: what `progress_done` / `progress_total` count (steps,
-- items, rows, parts), and the items that failed so far.
ALTER TABLE runs
    ADD COLUMN queue text NOT NULL DEFAULT 'interactive',
    ADD COLUMN cancel_requested_at timestamptz,
    ADD COLUMN cancel_requested_by text,
    ADD COLUMN retries int NOT NULL DEFAULT 0,
    ADD COLUMN progress_unit text NOT NULL DEFAULT 'steps',
    ADD COLUMN progress_failed int NOT NULL DEFAULT 0;

-- The dead-job listing: failed or compensated runs by kind.
CREATE INDEX runs_dead ON runs (tenant_id, kind, finished_at DESC)
    WHERE status IN ('failed', 'compensated');
