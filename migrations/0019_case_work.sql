-- Agents working support cases: a case is given to an agent or a team, and closed with a
-- resolution (`POST /v1/admin/orders/{order}/cases/{case}/assign|close`). A closed case
-- leaves the `cases` work queue; the customer's next message reopens it (the closure's
-- columns are cleared then; the audit log keeps who closed it and why).
ALTER TABLE support_cases
    ADD COLUMN assigned_team text,
    ADD COLUMN resolution    text,
    ADD COLUMN closed_by     text,
    ADD COLUMN closed_at     timestamptz,
    ADD CONSTRAINT support_cases_closed_has_resolution
        CHECK (status <> 'closed' OR (resolution IS NOT NULL AND closed_at IS NOT NULL));

-- The runs changing an order's fraud state that have not ended: a flag or unflag is
-- accepted only when none is (`db::fraud::change_in_flight`, under the order's advisory
-- lock), so two concurrent flags of one order answer 202 and 409. Only those runs are in
-- the index; the predicate matches the query's.
CREATE INDEX runs_fraud_change_in_flight ON runs (tenant_id, subject_id)
    WHERE kind IN ('flag_fraud', 'unflag_fraud') AND status IN ('queued', 'running');

-- Expired queue claims are deleted by the worker's sweeper (`db::queues::delete_expired_claims`),
-- oldest first.
CREATE INDEX queue_claims_expiry ON queue_claims (expires_at);
