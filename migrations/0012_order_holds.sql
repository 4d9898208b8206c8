-- Holds an agent places on an order (`POST /v1/admin/orders/{id}/hold`): objects with ids,
-- who placed and released them, and when they expire. At most one is open per order; the
-- Orders service only knows the order is `on_hold`.
CREATE TABLE order_holds (
    tenant_id      text NOT NULL,
    id             uuid PRIMARY KEY,
    order_id       text NOT NULL,
    reason         text NOT NULL,
    placed_by      text NOT NULL,
    placed_at      timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    -- the run that places it at the Orders service, and the one that releases it (an
    -- agent's or the expiry's); set once, so two releases never run
    place_run_id   uuid NOT NULL,
    release_run_id uuid,
    released_by    text,
    resolution     text,
    released_at    timestamptz
);
CREATE UNIQUE INDEX order_holds_one_open ON order_holds (tenant_id, order_id)
    WHERE released_at IS NULL;
CREATE INDEX order_holds_by_order ON order_holds (tenant_id, order_id, placed_at);
-- what the expiry scheduler looks for
CREATE INDEX order_holds_expiring ON order_holds (expires_at)
    WHERE released_at IS NULL AND release_run_id IS NULL AND expires_at IS NOT NULL;

-- A legal hold may name one order: it then also blocks every destructive action on that
-- order (`order.blocked.legal_hold`), and, as every legal hold, erasure of its customer.
ALTER TABLE legal_holds
    ADD COLUMN order_id text,
    ADD COLUMN released_by text,
    ADD COLUMN release_reason text;
CREATE UNIQUE INDEX legal_holds_one_per_order ON legal_holds (tenant_id, order_id)
    WHERE order_id IS NOT NULL AND released_at IS NULL;
