-- Exports of orders for finance: one row per export (written when it is accepted, finished
-- by the `export_orders` workflow's last step), and one row per part once the part is
-- closed: written whole to object storage, its rows, bytes and sha256 known. A resumed
-- export starts at the first part without a row here; a closed part is never rewritten.
CREATE TABLE exports (
    id            uuid PRIMARY KEY,
    tenant_id     text NOT NULL,
    run_id        uuid NOT NULL,
    format        text NOT NULL,
    compression   text NOT NULL,
    columns       text[] NOT NULL,
    requested_by  text NOT NULL,
    -- the orders that matched when the export started (progress; the rows written may
    -- differ if orders change while it runs)
    total_rows    bigint,
    -- set together when the export finished
    row_count     bigint,
    bytes         bigint,
    sha256        text,
    -- the one object of a Parquet export; CSV and NDJSON are their parts, concatenated
    object_key    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX exports_by_tenant ON exports (tenant_id, created_at DESC, id DESC);

CREATE TABLE export_parts (
    tenant_id   text NOT NULL,
    export_id   uuid NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    n           integer NOT NULL CHECK (n >= 1),
    rows        bigint NOT NULL,
    bytes       bigint NOT NULL,
    sha256      text NOT NULL,
    -- the part's last order id in export order: the next part starts after it
    last_id     text,
    object_key  text NOT NULL,
    closed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (export_id, n)
);
