-- A trigger carries its run's queue, and the unsent ones are indexed by queue. The relay
-- pushes into the queues that have room, and looked for their triggers by scanning every
-- unsent trigger joined to its run, to leave out the full queues': while one queue held a
-- backlog of 17,500 triggers and another had room, each pass read all 17,500 to find none
-- (15–70 ms a pass, ~25 passes per 20,000-run drain, 2026-12-04). Now it takes each queue's
-- oldest `room` triggers with one keyed look per queue that has room.
-- Triggers written without a queue (an api of an earlier release, during a rolling
-- upgrade) stay NULL; the relay finds those through their run, as before.
ALTER TABLE outbox ADD COLUMN queue text;

UPDATE outbox o SET queue = r.queue
FROM runs r
WHERE r.id = o.run_id AND o.kind = 'trigger' AND o.sent_at IS NULL;

CREATE INDEX outbox_triggers_unsent_by_queue ON outbox (queue, id)
    WHERE sent_at IS NULL AND kind = 'trigger';
DROP INDEX outbox_triggers_unsent;
