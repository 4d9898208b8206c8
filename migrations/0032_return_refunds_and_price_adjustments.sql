-- A return's refund or credit (`POST /v1/admin/returns/{id}/issue-refund`, workflow
-- `refund_return`): what was paid, how, and when, as the Payments service or Billing
-- confirmed it. `refund_status` moves from 'pending' to 'issued' with it.
ALTER TABLE returns
    ADD COLUMN refund_method        text CHECK (refund_method IN ('card','store_credit')),
    ADD COLUMN refund_amount_minor  bigint,
    -- the refund's id at Payments (`ref_…`) or the store credit's at Billing (`scr_…`)
    ADD COLUMN refund_reference     text,
    ADD COLUMN refund_issued_at     timestamptz;

-- A return is refunded once: a refund_return run queued, running or succeeded refuses the
-- next one (`db::returns::refund_accepted`, under the return's row lock).
CREATE INDEX runs_return_refund ON runs (tenant_id, subject_id)
    WHERE kind = 'refund_return' AND status IN ('queued', 'running', 'succeeded');

-- A return's card refund moves a payment's money as an agent's refund does: counted with them
-- at acceptance (`db::payments::accepted_refunds`). The predicate matches the query's.
DROP INDEX runs_payment_money;
CREATE INDEX runs_payment_money ON runs (tenant_id, (input ->> 'payment_id'))
    WHERE kind IN ('refund_payment', 'capture_payment', 'refund_return')
      AND status IN ('queued', 'running', 'succeeded');

-- An agent's price adjustments of an order (`POST /v1/admin/orders/{id}/adjust-price`,
-- workflow `adjust_price`, its subject the order): the credits accepted before are counted
-- at acceptance (`db::adjustments::accepted_credits`), so credits never pass the total.
CREATE INDEX runs_price_adjustments ON runs (tenant_id, subject_id)
    WHERE kind = 'adjust_price' AND status IN ('queued', 'running', 'succeeded');
