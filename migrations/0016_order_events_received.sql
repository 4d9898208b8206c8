-- When the Orders connector last delivered an event to a tenant (`GET /v1/admin/connectors`):
-- the newest `received_at` of the tenant, read from the end of this index.
CREATE INDEX order_events_received ON order_events (tenant_id, received_at);
