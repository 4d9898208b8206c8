-- Fulfilments made through the admin API, as the Fulfillment service confirmed them: so a
-- fulfilment or shipment id of another tenant is a 404 without asking the upstream, and
-- over-fulfilment is judged from orderdesk's own copy. Written by the workflows' record
-- steps after each upstream change.
CREATE TABLE fulfillments (
    tenant_id        text NOT NULL,
    id               text NOT NULL,
    order_id         text NOT NULL,
    warehouse        text NOT NULL,
    status           text NOT NULL CHECK (status IN ('open', 'shipped', 'cancelled')),
    lines            jsonb NOT NULL,
    ship_after       timestamptz,
    shipment_id      text,
    carrier          text,
    tracking_number  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX fulfillments_by_order ON fulfillments (tenant_id, order_id, created_at);
CREATE UNIQUE INDEX fulfillments_by_shipment ON fulfillments (tenant_id, shipment_id)
    WHERE shipment_id IS NOT NULL;

-- Shipping labels of a fulfilment's shipment, one row per version: uploaded with the ship
-- request, or rendered by orderdesk (first read without an upload, or regenerated). They
-- show the recipient's name and address: the GDPR erasure deletes them.
CREATE TABLE shipment_labels (
    tenant_id       text NOT NULL,
    fulfillment_id  text NOT NULL,
    version         integer NOT NULL CHECK (version > 0),
    source          text NOT NULL CHECK (source IN ('uploaded', 'rendered')),
    pdf             bytea NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, fulfillment_id, version),
    FOREIGN KEY (tenant_id, fulfillment_id) REFERENCES fulfillments (tenant_id, id)
);

-- The fulfilment runs not ended yet: a create's lines hold units until its fulfilment
-- is recorded (`db::fulfillments::open_lines`); a change bars another (`change_running`).
CREATE INDEX runs_fulfillment_in_flight ON runs (tenant_id, subject_id)
    WHERE kind = 'create_fulfillment' AND status IN ('queued', 'running');
CREATE INDEX runs_fulfillment_change_in_flight ON runs (tenant_id, subject_id)
    WHERE kind IN ('ship_fulfillment', 'cancel_fulfillment', 'reschedule_fulfillment')
      AND status IN ('queued', 'running');
