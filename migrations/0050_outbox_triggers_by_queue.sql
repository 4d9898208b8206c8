-- A trigger carries its run's queue, so that the relay can look up each queue's unsent
-- triggers by key (the index comes in 0051, built without blocking writes). The relay pushes
-- into the queues that have room, and found their triggers by reading every unsent trigger
-- joined to its run, to leave out a full queue's: while one queue held a backlog of 17,500
-- and another had room, each pass read all 17,500 to find none (15–70 ms a pass, ~25 passes
-- per 20,000-run drain, 2026-12-04).
-- Triggers written before this, or by an api of an earlier release during a rolling
-- upgrade, keep a NULL queue: the relay finds those through their run, as before, so nothing
-- is backfilled under this statement's lock. `outbox_triggers_unsent` (by id) stays while a
-- relay of an earlier release may run: its look walks that index; a later migration drops it.
-- Adding a nullable column rewrites nothing, but waits for the table's exclusive lock:
-- give up rather than queue every acceptance behind a long reader.
SET LOCAL lock_timeout = '5s';
ALTER TABLE outbox ADD COLUMN queue text;
