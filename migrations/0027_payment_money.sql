-- An agent's refunds and captures of one payment (`/v1/admin/payments/{id}/refund|capture`).
--
-- A payment is found in the read model by its id: the ids of each order's payments, indexed
-- (`db::payments::order_with_payment`).
CREATE INDEX order_views_payment_ids
    ON order_views USING gin (jsonb_path_query_array(doc, '$.payments[*].id') jsonb_path_ops);

-- The refund and capture runs of a payment that may still move its money, or moved it and the
-- read model may not show it yet: counted at acceptance, under the payment's advisory lock, so
-- two refunds of the whole amount at once answer 202 and 422 (`db::payments::accepted_refunds`,
-- `db::payments::capture_in_flight`). The predicate matches the queries'.
CREATE INDEX runs_payment_money ON runs (tenant_id, (input ->> 'payment_id'))
    WHERE kind IN ('refund_payment', 'capture_payment')
      AND status IN ('queued', 'running', 'succeeded');
