-- The secondary indexes of order_views that a bulk seed dropped and has yet to build again.
-- A seed into an empty order_views drops its non-unique indexes before the COPY and builds
-- each once after it (one sorted build is far cheaper than maintaining ten indexes a row at
-- a time). The definitions are recorded here, in the transaction that drops the indexes, so
-- that a seed that dies before its rebuild does not leave the read model without them: the
-- next db::migrate (`orderdesk migrate`, `seed`, `dev`) rebuilds what is recorded here unless
-- a seed is still running.
-- A row is deleted in the transaction that builds its index again.
-- Shared infrastructure, not a tenant's data: no tenant_id.
CREATE TABLE deferred_indexes (
    name         text PRIMARY KEY,
    definition   text NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE deferred_indexes IS
    'Indexes of order_views dropped by a bulk seed, rebuilt after its COPY or, if the seed died, at the next process start';
