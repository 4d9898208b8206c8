-- The worker processes that run the engine (`orderdesk worker`, `orderdesk dev`), for the
-- console's workers page and `GET /v1/admin/engine/workers`. Each process writes its row at
-- start and on a heartbeat (one UPSERT every few seconds; nothing per run), deletes it on a
-- clean shutdown, and deletes rows whose heartbeat is over a day old; a row whose heartbeat
-- is older than half a minute is shown as stale (the process died without cleaning up).
-- Shared infrastructure, not a tenant's data: no tenant_id.
-- lease_owners: the apalis worker names the process holds run leases under (one per queue
-- and restart, `{prefix}-{queue}-{host}-{pid}-{random}`), so a tenant's runs in flight on
-- the process are its running runs whose `runs.lease_owner` is one of them.
CREATE TABLE worker_processes (
    name          text PRIMARY KEY,
    host          text NOT NULL,
    pid           int NOT NULL,
    queues        text[] NOT NULL,
    concurrency   int NOT NULL,
    lease_owners  text[] NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
