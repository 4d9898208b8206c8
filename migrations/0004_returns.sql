-- Returns and exchanges a customer asked for: orderdesk's record of each RMA it created at
-- the Fulfillment service's Returns API (the RMA id is orderdesk's, so both sides share it).
CREATE TABLE returns (
    tenant_id              text NOT NULL,
    rma_id                 text NOT NULL,
    -- 'return' (money back) or 'exchange' (a replacement ships)
    kind                   text NOT NULL CHECK (kind IN ('return','exchange')),
    order_id               text NOT NULL,
    customer_id            text NOT NULL,
    request_id             uuid NOT NULL REFERENCES requests(id),
    -- [{line_id, qty, reason, replacement_sku?, comment?}]
    lines                  jsonb NOT NULL,
    method                 text NOT NULL,
    preferred_refund       text,
    -- requested (accepted; then as the Returns API says), failed (no RMA was created)
    status                 text NOT NULL DEFAULT 'requested',
    instructions           text NOT NULL,
    label_url              text,
    -- pending (until the goods are received and refunded: the admin side), not_applicable
    refund_status          text NOT NULL,
    expected_refund_minor  bigint NOT NULL,
    currency               text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rma_id)
);
CREATE INDEX returns_by_order ON returns (tenant_id, order_id, created_at);
CREATE INDEX returns_by_customer ON returns (tenant_id, customer_id, created_at DESC);
