-- orderdesk's own schema. The canonical order state lives upstream; these tables hold
-- the read model, the runs of workflows, the outbox, idempotency records and the audit log.

CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    -- windows, approval rules, capabilities: see domain::settings::TenantSettings
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The read model: the order as the upstream last described it.
CREATE TABLE order_views (
    tenant_id       text NOT NULL REFERENCES tenants(id),
    id              text NOT NULL,
    number          text NOT NULL,
    customer_id     text NOT NULL,
    email           text NOT NULL,
    status          text NOT NULL,
    currency        text NOT NULL,
    total_minor     bigint NOT NULL,
    placed_at       timestamptz NOT NULL,
    -- the upstream's whole order document (lines, shipments, payments, totals, address)
    doc             jsonb NOT NULL,
    -- upstream version of `doc`; a snapshot older than this is ignored
    version         bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX order_views_by_customer ON order_views (tenant_id, customer_id, placed_at DESC, id);
CREATE UNIQUE INDEX order_views_by_number ON order_views (tenant_id, number);

-- Every change seen, for timelines and ingest de-duplication.
CREATE TABLE order_events (
    tenant_id   text NOT NULL,
    order_id    text NOT NULL,
    seq         bigserial,
    event_id    text NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id, seq)
);
CREATE UNIQUE INDEX order_events_event_id ON order_events (tenant_id, event_id);

-- One workflow execution. Postgres holds its truth; Redis only delivers its trigger.
CREATE TABLE runs (
    id              uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    kind            text NOT NULL,
    -- the order (or other resource) the run acts on
    subject_id      text,
    -- who asked: a customer's request is visible to that customer only
    customer_id     text,
    requested_by    text NOT NULL,
    input           jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued','running','succeeded','failed','compensated','cancelled')),
    progress_done   int NOT NULL DEFAULT 0,
    progress_total  int NOT NULL,
    current_step    text,
    attempts        int NOT NULL DEFAULT 0,
    lease_owner     text,
    lease_until     timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- when the sweeper or relay last pushed a trigger for this run
    pushed_at       timestamptz,
    result          jsonb,
    error           jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_due ON runs (status, next_attempt_at) WHERE status IN ('queued','running');
CREATE INDEX runs_by_kind ON runs (tenant_id, kind, created_at DESC);

CREATE TABLE run_steps (
    run_id       uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx          int NOT NULL,
    name         text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending','running','done','skipped','failed','compensated')),
    attempts     int NOT NULL DEFAULT 0,
    output       jsonb,
    last_error   jsonb,
    started_at   timestamptz,
    finished_at  timestamptz,
    duration_ms  bigint,
    PRIMARY KEY (run_id, idx)
);

-- A customer's or agent's ask, with its own lifecycle before (and around) its run.
CREATE TABLE requests (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    kind         text NOT NULL,
    order_id     text NOT NULL,
    customer_id  text NOT NULL,
    status       text NOT NULL,
    input        jsonb NOT NULL,
    run_id       uuid REFERENCES runs(id),
    decided_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_by_order ON requests (tenant_id, order_id, created_at DESC);
-- at most one open cancellation per order
CREATE UNIQUE INDEX requests_one_open ON requests (tenant_id, order_id, kind)
    WHERE status IN ('pending_review','approved','queued','running');

-- Written in the transaction of the change; the relay delivers and marks it sent.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,        -- 'trigger' (a run to start) or 'event'
    run_id      uuid,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE idempotency_keys (
    tenant_id        text NOT NULL,
    principal        text NOT NULL,
    key              text NOT NULL,
    request_hash     text NOT NULL,
    state            text NOT NULL CHECK (state IN ('in_flight','done')),
    response_status  int,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    actor_kind      text NOT NULL,   -- customer | agent | system
    actor_id        text NOT NULL,
    roles           text[] NOT NULL DEFAULT '{}',
    on_behalf_of    text,
    action          text NOT NULL,
    subject_type    text NOT NULL,
    subject_id      text NOT NULL,
    reason          text,
    ip              text,
    request_id      text,
    correlation_id  text,
    before          jsonb,
    after           jsonb
);
CREATE INDEX audit_by_subject ON audit_log (tenant_id, subject_type, subject_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
