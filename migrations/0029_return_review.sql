-- An agent's review of a return: its approval (how the goods come back) and the latest
-- inspection with the refund or credit it proposes, as the Returns API confirmed them.
-- `status` moves on to 'approved' and 'inspected' with them.
ALTER TABLE returns
    ADD COLUMN approval_method       text CHECK (approval_method IN ('label','pickup')),
    ADD COLUMN approved_at           timestamptz,
    -- {id, condition, restockable, disposition, notes, restocked, inspected_at}
    ADD COLUMN inspection            jsonb,
    ADD COLUMN inspected_at          timestamptz,
    -- {kind: refund|store_credit|none, amount: {amount_minor, currency}}
    ADD COLUMN proposed_settlement   jsonb;

-- The approvals and inspections that have not ended (their runs' subject is the RMA id): one
-- is accepted only when none is (`db::returns::review_in_flight`, under the return's row
-- lock), so two agents' concurrent approvals answer 202 and 409.
CREATE INDEX runs_return_review_in_flight ON runs (tenant_id, subject_id)
    WHERE kind IN ('approve_return', 'inspect_return') AND status IN ('queued', 'running');
