-- Archives of one customer's data (GDPR subject access, `POST /v1/admin/gdpr/export`): one row
-- per archive, written when it is accepted and finished by the `export_subject` workflow once
-- the archive is in the exports store. Kept apart from `exports` (orders for finance): the
-- finance listing and its links must never reach a person's archive.
CREATE TABLE subject_exports (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL,
    customer_id   text NOT NULL,
    run_id        uuid NOT NULL,
    requested_by  text NOT NULL,
    -- set together when the archive is stored
    object_key    text,
    bytes         bigint,
    sha256        text,
    -- records per kind in the archive
    counts        jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX subject_exports_by_customer ON subject_exports (tenant_id, customer_id, created_at DESC);
