-- The items of a long job (ARCHITECTURE "Long jobs"): one row per order of a bulk job, with
-- its own status, so a crash re-does at most the items in flight and a retry re-runs only
-- what did not succeed. An item is carried out by a child run (`child_run_id`, written in the
-- transaction that starts it, so an item is never started twice).
CREATE TABLE run_items (
    run_id        uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx           int NOT NULL,
    tenant_id     text NOT NULL,
    subject_id    text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    child_run_id  uuid,
    code          text,
    detail        text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX run_items_open ON run_items (run_id, idx) WHERE status IN ('pending', 'running');
-- the per-tenant bound on items in flight across every bulk job of the tenant
CREATE INDEX run_items_running ON run_items (tenant_id) WHERE status = 'running';
