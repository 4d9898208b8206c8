-- Finance's record of why one money difference of an order is accounted for (evidence: a
-- note and an external reference such as a bank statement line): orderdesk's own, shown with
-- the difference by `GET /v1/admin/orders/{id}/reconciliation`. A resolution covers the
-- difference as it was (code, subject, amount): when the amounts move, the difference is
-- open again.
CREATE TABLE reconciliation_resolutions (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    order_id text NOT NULL,
    -- the order's customer, so that an erasure finds the notes written about them
    customer_id text NOT NULL,
    code text NOT NULL,
    subject text NOT NULL,
    difference_minor bigint NOT NULL,
    note text NOT NULL,
    reference text,
    resolved_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_resolutions_by_order
    ON reconciliation_resolutions (tenant_id, order_id, created_at);
CREATE INDEX reconciliation_resolutions_by_customer
    ON reconciliation_resolutions (tenant_id, customer_id);
