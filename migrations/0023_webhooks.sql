-- Outgoing domain events and webhooks. A domain event is an outbox row of kind 'event'
-- (payload: the versioned envelope), written in the transaction that causes it; sent rows
-- are kept as the events' history (replay reads them by order).
ALTER TABLE outbox ADD COLUMN tenant_id text, ADD COLUMN order_id text;
CREATE INDEX outbox_events_unsent ON outbox (id) WHERE sent_at IS NULL AND kind = 'event';
CREATE INDEX outbox_events_by_order ON outbox (tenant_id, order_id, id) WHERE kind = 'event';

-- A tenant's webhook subscription. `secret` is the Standard Webhooks `whsec_…` secret,
-- kept as is: the delivery worker signs with it.
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    event_types     text[] NOT NULL DEFAULT '{}',   -- empty: every type
    secret          text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, id);

-- One event to one webhook: attempted until delivered or out of attempts.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    -- the order deliveries are sent in, per webhook (an order's events arrive in order)
    seq             bigserial NOT NULL,
    tenant_id       text NOT NULL,
    webhook_id      uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,
    replay          boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending','delivered','failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status     int,
    last_error      text,
    last_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);

-- THE shape of an event (version 1), used by every writer of events (db::events::record,
-- and the batched end of runs for job.finished): {id, type, version, occurred_at,
-- tenant_id, data}.
CREATE FUNCTION orderdesk_event_envelope(tenant text, type text, data jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT jsonb_build_object(
        'id', 'evt_' || replace(gen_random_uuid()::text, '-', ''),
        'type', type, 'version', 1,
        'occurred_at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'tenant_id', tenant, 'data', data)
$$;
