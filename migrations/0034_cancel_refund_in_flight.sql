-- A cancellation that refunds the order is under way (`db::payments::cancel_refund_in_flight`):
-- an agent's refund of one of its payments waits for it, so the two never ask Payments for the
-- same money. The predicate matches the query's.
CREATE INDEX runs_cancel_in_flight ON runs (tenant_id, subject_id)
    WHERE kind = 'cancel_order' AND status IN ('queued', 'running');
