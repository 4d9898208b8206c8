-- Fewer index entries per outbox row. The relay's index of unsent triggers covered unsent
-- events too, which have their own (`outbox_events_unsent`, read by the events relay): every
-- event paid an entry in both. And the index of an order's events (replay) took the events
-- of no order as well, such as the `job.finished` of a run that acts on none, twice each
-- (written, then marked sent). Each finished run writes an event.
DROP INDEX outbox_unsent;
CREATE INDEX outbox_triggers_unsent ON outbox (id) WHERE sent_at IS NULL AND kind = 'trigger';
DROP INDEX outbox_events_by_order;
CREATE INDEX outbox_events_by_order ON outbox (tenant_id, order_id, id)
    WHERE kind = 'event' AND order_id IS NOT NULL;
