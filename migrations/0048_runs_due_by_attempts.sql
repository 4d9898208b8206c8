-- The sweeper looks for queued runs whose trigger may be lost, and read every queued run to
-- find them: under the backlog the relay was still delivering (60,000 runs in bench (a)) a
-- pass cost 22 ms, four times a second, for none. A run never claimed (`attempts = 0`) can
-- have lost its trigger only once it was pushed longer ago than the redelivery delay, so it
-- was due before then; a run claimed before is queued again for a retry or after a hand-back.
-- With `attempts` in the key each is a range of the index. Only a claim changes `attempts`,
-- and it changes `status` too: no update that was HOT stops being so.
DROP INDEX runs_due;
CREATE INDEX runs_due ON runs (status, attempts, next_attempt_at)
    WHERE status IN ('queued', 'running');
